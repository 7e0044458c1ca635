"""``edgeapp doctor`` finds what is wrong, says how to fix it, and exits non-zero then."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from support.shared import MODELS, VIDEO
from edgeapp.bench.mqtt import LocalMosquitto
from edgeapp.service.doctor import coral_devices
from support.config import write_config


def doctor(cfg, *args):
    return subprocess.run([sys.executable, "-m", "edgeapp", "doctor", "--config", str(cfg), "--camera-timeout", "5",
                           *args], capture_output=True, text=True, timeout=120)


def rows(out: str) -> dict[str, str]:
    return {line.split("  ")[0].strip(): line for line in out.splitlines() if "  " in line}


@pytest.fixture
def models(tmp_path):
    d = tmp_path / "models"
    shutil.copytree(MODELS, d)
    return d


def test_all_fine_exits_zero(tmp_path, models):
    broker = LocalMosquitto(tmp_path / "broker").start()
    try:
        cfg = write_config(tmp_path / "c.toml", source={"uri": str(VIDEO / "carving_ice.mp4")},
                           tasks={"pose": True, "classify": True}, classify={"model": "yoga-classifier"}, runtime={"models_dir": str(models)},
                           mqtt={"host": "127.0.0.1", "port": broker.port, "outbox_path": str(tmp_path / "o.db")})
        r = doctor(cfg)
    finally:
        broker.stop()
    assert r.returncode == 0, r.stdout
    found = rows(r.stdout)
    for name in ("runtime", "config", "model movenet-lightning-int8", "model yoga-classifier", "camera", "broker"):
        assert " ok " in found[name], found[name]
    assert " skip " in found["edge tpu"]  # no Coral here and none expected: the CPU under auto is fine
    assert "look at" not in r.stdout


def test_a_warning_is_not_fine_and_has_its_own_exit_status(tmp_path, models):
    """A delegate library that loads with no Coral plugged in (libc stands in for libedgetpu, which loads
    nowhere here) is a warning: the summary names it and the exit status is 3, neither 0 nor a failure's 1."""
    cfg = write_config(tmp_path / "c.toml", source={"uri": str(VIDEO / "carving_ice.mp4")},
                       runtime={"models_dir": str(models), "delegate": "libc.so.6"})
    r = doctor(cfg)
    found = rows(r.stdout)
    assert " warn " in found["edge tpu"] and "no Coral is plugged in" in found["edge tpu"], r.stdout
    assert "FAIL" not in r.stdout and "look at: edge tpu" in r.stdout
    assert r.returncode == 3, r.stdout


def test_each_broken_part_is_named_with_a_fix(tmp_path, models):
    (models / "classifier" / "yoga_classifier.tflite").write_bytes(b"TFL3" * 10)
    cfg = write_config(tmp_path / "c.toml", source={"uri": str(tmp_path / "gone.mp4")},
                       tasks={"pose": True, "classify": True}, classify={"model": "yoga-classifier"},
                       runtime={"models_dir": str(models), "backend": "edgetpu"},
                       mqtt={"host": "127.0.0.1", "port": 9, "outbox_path": str(tmp_path / "o.db")})
    r = doctor(cfg)
    assert r.returncode == 1
    found = rows(r.stdout)
    assert "FAIL" in found["model yoga-classifier"] and "edgeapp models pull yoga-classifier" in found["model yoga-classifier"]
    assert " ok " in found["model movenet-lightning-int8"]
    assert "FAIL" in found["camera"] and "gone.mp4 is not there" in found["camera"]
    assert "FAIL" in found["edge tpu"] and "libedgetpu1-std" in found["edge tpu"]
    assert "FAIL" in found["broker"] and "Connection refused" in found["broker"]
    assert "fix: " in r.stdout


def test_changed_labels_are_named(tmp_path, models):
    (models / "classifier" / "labels.txt").write_text("tampered\n")
    cfg = write_config(tmp_path / "c.toml", source={"uri": str(VIDEO / "carving_ice.mp4")},
                       tasks={"pose": True, "classify": True}, classify={"model": "yoga-classifier"},
                       runtime={"models_dir": str(models)})
    r = doctor(cfg)
    assert r.returncode == 1
    row = rows(r.stdout)["model yoga-classifier"]
    assert "FAIL" in row and "labels yoga-labels" in row and "edgeapp models pull yoga-labels" in row, row


def test_bad_config_is_reported(tmp_path):
    cfg = write_config(tmp_path / "c.toml", tasks={"classify": True, "pose": False})
    r = doctor(cfg)
    assert r.returncode == 1 and "tasks.classify" in r.stdout


def test_coral_detection_reads_usb_ids(tmp_path):
    for name, ids in {"1-1": ("1a6e", "089a"), "1-2": ("046d", "0825"), "2-1": ("18d1", "9302")}.items():
        d = tmp_path / "usb" / name
        d.mkdir(parents=True)
        (d / "idVendor").write_text(ids[0] + "\n")
        (d / "idProduct").write_text(ids[1] + "\n")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "apex_0").touch()
    found = coral_devices(str(tmp_path / "usb"), str(tmp_path / "dev"))
    assert sorted(found) == sorted(["Coral USB (before firmware load) at 1-1", "Coral USB at 2-1",
                                    f"Coral PCIe {tmp_path}/dev/apex_0"])


# -- cam2 item 3: a camera that is not there, or not a camera, is said at once and for what it is -------------------

def test_a_missing_v4l2_device_is_reported_at_once(tmp_path):
    cfg = write_config(tmp_path / "c.toml", source={"uri": "/dev/video99"}, tasks={"pose": True})
    # a camera timeout far past the subprocess's: waiting it out (as before) fails the test by TimeoutExpired
    r = doctor(cfg, "--camera-timeout", "600")
    camera = rows(r.stdout)["camera"]
    assert r.returncode == 1 and "FAIL" in camera and "/dev/video99 is not there" in camera, r.stdout


@pytest.mark.parametrize("uri", ["pipe.avi", "video-fifo"])
def test_a_fifo_is_called_a_fifo(tmp_path, uri):
    fifo = tmp_path / uri
    os.mkfifo(fifo)
    cfg = write_config(tmp_path / "c.toml", source={"uri": str(fifo)}, tasks={"pose": True})
    r = doctor(cfg, "--camera-timeout", "600")
    camera = rows(r.stdout)["camera"]
    assert r.returncode == 1 and "FAIL" in camera and "is a FIFO (named pipe), not a file" in camera, r.stdout
    assert "is not there" not in camera

