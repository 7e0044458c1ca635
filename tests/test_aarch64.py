"""The Raspberry Pi target, proven here: the aarch64 wheelhouse the Ansible role builds, installed into an arm64
Debian bookworm root (Python 3.11, the system numpy, a --system-site-packages venv as on a Pi) and run under
qemu-user: `edgeapp infer pose` agrees with this machine's run, and `edgeapp run` handles the street clip.

Emulation is 10-30x slower than a Pi and says nothing about a Pi's speed: only correctness is checked here.
The arm64 root is cached as a tarball (tests/infra/arm64.py); the first debootstrap takes minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.arm64 import Arm64Root
from infra.wheelhouse import build_wheelhouse
from support.shared import IMAGES, MODELS, REPO, VIDEO

pytestmark = [pytest.mark.container, pytest.mark.timeout(3600)]

CORAL_TOLERANCE = 0.04  # libcoral's test tolerance for keypoints, in frame units
IMAGE = IMAGES / "tfex_pose_image1.png"
CLIP = VIDEO / "opencv_vtest_30s_h264.mp4"
EXTRAS = "pi,preview"  # the role's edgeapp_extras
RELEASE = "/opt/edgeapp/releases/test"


@pytest.fixture(scope="module")
def wheelhouse():
    """`pip download --only-binary :all:` for aarch64 / cp311 with the Pi constraints, as the role runs it."""
    return build_wheelhouse(arch="aarch64", python_version="3.11", extras=EXTRAS,
                            constraints=REPO / "constraints" / "pi-bookworm.txt")


def test_the_pi_runtime_resolves_to_aarch64_cp311_wheels_only(wheelhouse):
    files = sorted(p.name for p in wheelhouse.iterdir() if not p.name.startswith("."))
    packages = [f for f in files if f != "SHA256SUMS"]
    assert packages and all(f.endswith(".whl") for f in packages), packages  # no sdist: nothing to compile on a Pi
    for wheel in packages:
        tag = wheel.removesuffix(".whl").split("-")[-1]
        assert tag == "any" or "aarch64" in tag, wheel
    by_name = {f.split("-")[0].lower(): f.split("-")[1] for f in packages}
    assert by_name["numpy"].startswith("1.")  # numpy < 2: apt's picamera2 is built against numpy 1
    assert by_name["opencv_python_headless"] == "4.11.0.86"
    assert "ai_edge_litert" in by_name and "tensorflow" not in " ".join(by_name)
    print(f"aarch64 wheelhouse: {len(packages)} wheels, "
          f"{sum((wheelhouse / f).stat().st_size for f in packages) / 1e6:.0f} MB")


@pytest.fixture(scope="module")
def pi_root(tmp_path_factory, wheelhouse):
    """The arm64 root with edgeapp installed from the wheelhouse into a release venv, as the role does."""
    began = time.monotonic()
    root = Arm64Root(tmp_path_factory.mktemp("arm64"))
    root.copy_in(wheelhouse, "/opt/wheels")
    root.copy_in(REPO / "constraints" / "pi-bookworm.txt", "/opt/wheels/constraints.txt")
    root.copy_in(MODELS, "/srv/models-import")
    root.copy_in(IMAGE, f"/srv/data/{IMAGE.name}")
    root.copy_in(CLIP, f"/srv/data/{CLIP.name}")
    assert root.run("uname -m").stdout.strip() == "aarch64"
    root.run(f"python3 -m venv --system-site-packages {RELEASE} && {RELEASE}/bin/python -m pip install "
             f"--no-cache-dir --disable-pip-version-check --quiet --no-index --find-links /opt/wheels "
             f"--constraint /opt/wheels/constraints.txt 'edgeapp[{EXTRAS}]'")
    root.run(f"EDGEAPP_MODELS_DIR=/var/lib/edgeapp/models {RELEASE}/bin/edgeapp models import /srv/models-import")
    print(f"arm64 root unpacked and edgeapp installed in {time.monotonic() - began:.0f} s")
    yield root
    root.remove()


def edgeapp_in(root: Arm64Root, args: str, check: bool = True) -> subprocess.CompletedProcess:
    return root.run(f"cd /srv && EDGEAPP_MODELS_DIR=/var/lib/edgeapp/models {RELEASE}/bin/edgeapp {args}",
                    check=check)


def test_the_runtime_in_the_pi_root_is_the_pi_profile(pi_root):
    out = pi_root.run(f"{RELEASE}/bin/python -c 'import platform, numpy, cv2; from edgeapp.runtime.litert import "
                      f"RUNTIME_NAME; print(platform.machine(), numpy.__version__, numpy.__file__, cv2.__version__, "
                      f"RUNTIME_NAME)'").stdout.split()
    machine, numpy_version, numpy_file, opencv, runtime = out
    assert machine == "aarch64" and opencv == "4.11.0" and runtime == "ai-edge-litert"
    assert numpy_version == "1.24.2" and numpy_file.startswith("/usr/lib/python3/dist-packages")  # apt's numpy
    print("arm64 root:", " ".join(out))


def pi_profile_python() -> Path:
    """This machine's Pi-profile venv (.ci/setup makes it): the x86_64 run to compare with must differ from the
    arm64 one in the CPU only. OpenCV 5 against 4.11 alone moves image1's keypoints by up to 0.041 after the
    three still-image passes, more than the tolerance."""
    for venv in (REPO / ".venv-pi", Path(sys.prefix).parent / ".venv-pi"):
        if (venv / "bin" / "python").is_file():
            return venv / "bin" / "python"
    pytest.fail("no .venv-pi beside this checkout or this venv: run .ci/setup")


def test_infer_pose_on_aarch64_matches_this_machine(pi_root):
    began = time.monotonic()
    arm = edgeapp_in(pi_root, f"infer pose data/{IMAGE.name} --backend auto --threads 2")
    emulated_s = time.monotonic() - began
    python = pi_profile_python()
    profile = subprocess.run([str(python), "-c", "import numpy, cv2; print(numpy.__version__, cv2.__version__)"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert profile[0].startswith("1.") and profile[1] == "4.11.0", profile  # the same profile as the Pi root
    here = subprocess.run([str(python), "-m", "edgeapp", "infer", "pose", str(IMAGE), "--backend", "auto",
                           "--threads", "2"], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    (a,) = [json.loads(line) for line in arm.stdout.splitlines()]
    (x,) = [json.loads(line) for line in here.stdout.splitlines()]
    assert a["backend"] == "cpu" and a["fallback"] is False  # no Coral in the root either: no fallback
    assert [k["name"] for k in a["keypoints"]] == [k["name"] for k in x["keypoints"]]
    diffs = {ka["name"]: max(abs(ka["x"] - kx["x"]), abs(ka["y"] - kx["y"]))
             for ka, kx in zip(a["keypoints"], x["keypoints"])}
    worst = max(diffs.values())
    print(f"aarch64 vs x86_64 (numpy {profile[0]}, OpenCV {profile[1]} on both): keypoints max |d| {worst:.4f} "
          f"(tolerance {CORAL_TOLERANCE}; per joint {diffs}); score {a['score']} vs {x['score']}; "
          f"emulated run {emulated_s:.0f} s (not a Pi timing)")
    assert worst <= CORAL_TOLERANCE, (a, x)
    # the person score is a mean of int8-quantised keypoint scores (steps of ~0.065): only its sense is compared
    assert a["score"] > 0.5 and x["score"] > 0.5
    assert "XNNPACK" not in arm.stderr and "WARNING" not in arm.stderr, arm.stderr


def test_the_service_runs_the_street_clip_on_aarch64(pi_root):
    config = pi_root.path / "srv" / "demo.toml"
    config.write_text((REPO / "docs" / "demo.toml").read_text().replace(
        '"../../shared/data/video/opencv_vtest_30s_h264.mp4"', f'"data/{CLIP.name}"'))
    r = edgeapp_in(pi_root, "run --config demo.toml --max-frames 5 --print-events")
    events = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("pose") == 5 and "detection" in kinds and kinds[-1] == "stats", kinds
    assert [e["frame"] for e in events if e["event"] == "pose"] == list(range(5))
    stats = events[-1]
    assert stats["backend"] == "cpu" and stats["fallback"] is False and stats["camera"]["state"] == "up"
    assert set(stats["models"]) == {"pose", "classify", "detect"}
    assert "Traceback" not in r.stderr and "ERROR" not in r.stderr, r.stderr
    print(f"aarch64 service: {len(events)} events over 5 frames ({', '.join(sorted(set(kinds)))})")

