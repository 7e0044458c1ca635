"""The command line as a user runs it: a real process, JSON lines out, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from support.shared import CLASSIFIER_LABELS, IMAGES, MODELS, MOVENET, SSD, VIDEO


def edgeapp(*args, env_models=None, check=False):
    env = None
    if env_models is not None:
        import os

        env = {**os.environ, "EDGEAPP_MODELS_DIR": str(env_models)}
    return subprocess.run([sys.executable, "-m", "edgeapp", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env, check=check)


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_infer_pose_on_an_image():
    r = edgeapp("infer", "pose", IMAGES / "squat.bmp", "--model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    (obj,) = lines(r.stdout)
    assert obj["source"].endswith("squat.bmp") and obj["frame"] == 0 and obj["backend"] == "cpu"
    assert len(obj["keypoints"]) == 17
    nose = obj["keypoints"][0]
    assert nose["name"] == "nose" and set(nose) >= {"x", "y", "score"}
    assert 0 <= nose["x"] <= 1 and 0 <= nose["y"] <= 1


def test_infer_pose_on_a_folder(tmp_path):
    for name in ["tfex_pose_image1.png", "tfex_pose_image2.jpeg"]:
        (tmp_path / name).write_bytes((IMAGES / name).read_bytes())
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    r = edgeapp("infer", "pose", tmp_path, "--model", MOVENET, "--backend", "auto")
    assert r.returncode == 0, r.stderr
    objs = lines(r.stdout)
    assert [o["source"].rsplit("/", 1)[1] for o in objs] == ["tfex_pose_image1.png", "tfex_pose_image2.jpeg"]
    # no Coral on this machine: auto runs on the CPU, and that is no fallback
    assert all(o["backend"] == "cpu" and o["fallback"] is False for o in objs)
    assert "broken.jpg" in r.stderr  # skipped with a message, not a crash


def test_infer_pose_on_a_video_carries_frames_in_order():
    r = edgeapp("infer", "pose", VIDEO / "carving_ice.mp4", "--model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    objs = lines(r.stdout)
    assert [o["frame"] for o in objs] == list(range(200))
    assert objs[30]["time"] == pytest.approx(1.0, abs=0.01)  # media time at 30 fps


def test_infer_pose_by_registry_name(tmp_path):
    assert edgeapp("models", "import", MODELS, "movenet-lightning-int8", env_models=tmp_path).returncode == 0
    r = edgeapp("infer", "pose", IMAGES / "squat.bmp", env_models=tmp_path)  # default model, default backend
    assert r.returncode == 0, r.stderr
    assert lines(r.stdout)[0]["backend"] == "cpu"


@pytest.mark.parametrize(
    "args, message",
    [
        (["infer", "pose", "/nonexistent/clip.mp4"], "no such file or folder: /nonexistent/clip.mp4"),
        (["infer", "pose", CLASSIFIER_LABELS], "unknown file type .txt"),
        (["infer", "pose", IMAGES / "squat.bmp", "--model", SSD], "does not look like a MoveNet"),
        (["infer", "pose", IMAGES / "squat.bmp", "--model", CLASSIFIER_LABELS], "is not a TFLite model"),
        (["infer", "pose", IMAGES / "squat.bmp", "--model", MOVENET, "--backend", "edgetpu"], "no Edge TPU attached"),
        (["infer", "pose", IMAGES / "squat.bmp", "--passes", "0"], "--passes must be at least 1"),
    ],
)
def test_bad_input_gives_a_message_and_nonzero_exit(args, message):
    r = edgeapp(*args)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_undecodable_single_image(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    r = edgeapp("infer", "pose", bad, "--model", MOVENET)
    assert r.returncode == 2 and "cannot decode image" in r.stderr


def test_models_cli(tmp_path):
    r = edgeapp("models", "import", MODELS, env_models=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "movenet-lightning-int8             imported" in r.stdout
    r = edgeapp("models", "verify", env_models=tmp_path)
    assert r.returncode == 0 and "yoga-classifier                    ok" in r.stdout
    r = edgeapp("models", "list", env_models=tmp_path)
    assert "movenet-thunder-fp16" in r.stdout and "absent" in r.stdout
    (tmp_path / "classifier" / "labels.txt").write_text("tampered")
    r = edgeapp("models", "verify", env_models=tmp_path)
    assert r.returncode == 1 and "yoga-labels                        mismatch" in r.stdout


def test_bench_pose_reports_invoke_and_path():
    r = edgeapp("bench", "pose", "--model", MOVENET, "--source", VIDEO / "carving_ice.mp4", "--frames", "20",
                "--warmup", "2", "--backend", "cpu", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["frames"] == 20
    for key in ("invoke", "pose_path", "overhead", "decode"):
        assert report[key]["n"] == 20 and report[key]["p95_ms"] >= report[key]["p50_ms"] >= 0
    assert report["pose_path"]["mean_ms"] > report["invoke"]["mean_ms"]
    assert report["backend"]["backend"] == "cpu"


@pytest.mark.parametrize("value", ["0", "abc", "65", "-1"])
def test_a_bad_thread_count_is_a_usage_error(value):
    r = edgeapp("infer", "pose", IMAGES / "squat.bmp", "--model", MOVENET, "--threads", value)
    assert r.returncode == 2, r.stderr
    assert "argument --threads" in r.stderr and "config" not in r.stderr and "Traceback" not in r.stderr


def test_printed_keypoints_are_clamped_to_the_frame():
    """A pose whose joints MoveNet places beyond the frame's edges prints them on the edge, in pixels and in
    normalised units, while the pose the models and classifier use keeps the raw values."""
    from edgeapp.events.pose import pose_json
    from edgeapp.pose.keypoint import Pose

    xy = np.full((17, 2), 0.5)
    xy[0] = (780.5 / 768, -0.02)  # 780 px in a 768-px-wide frame, above the top
    xy[1] = (-0.1, 1.2)
    pose = Pose(xy, np.full(17, 0.9), (768, 432))
    shown = pose_json(pose)
    nose, eye = shown["keypoints"][0], shown["keypoints"][1]
    assert (nose["px"], nose["py"], eye["px"], eye["py"]) == (767, 0, 0, 431)
    assert 0 <= nose["x"] < 1 and nose["y"] == 0 and eye["x"] == 0 and eye["y"] < 1
    assert all(0 <= k[c] < 1 for k in shown["keypoints"] for c in ("x", "y"))
    assert all(0 <= v <= 1 for v in shown["box"])
    assert pose.pixels[0, 0] == 780  # unclamped for the models


def test_a_persons_keypoints_follow_the_same_clamp_as_a_single_pose():
    """One rule for printed keypoints (Pose.clamped: x, y in [0, 1), pixels in the frame) with --people too;
    only the detection box, an extent rather than a pixel, is held within [0, 1]."""
    from edgeapp.detect.detection import BBox
    from edgeapp.events.pose import person_json, pose_json
    from edgeapp.pose.keypoint import Pose
    from edgeapp.pose.people import PersonPose

    xy = np.full((17, 2), 0.5)
    xy[0] = (780.5 / 768, -0.02)
    xy[1] = (-0.1, 1.2)
    pose = Pose(xy, np.full(17, 0.9), (768, 432))
    shown = person_json(PersonPose(7, BBox(-0.05, 0.1, 1.02, 0.9), pose))
    assert shown["keypoints"] == pose_json(pose)["keypoints"]
    assert all(0 <= k[c] < 1 for k in shown["keypoints"] for c in ("x", "y"))
    assert shown["box"] == [0.0, 0.1, 1.0, 0.9] and shown["id"] == 7


def test_infer_pose_prints_no_keypoint_outside_the_frame():
    r = edgeapp("infer", "pose", VIDEO / "carving_ice.mp4", "--model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    for obj in lines(r.stdout):
        for k in obj["keypoints"]:
            assert 0 <= k["x"] < 1 and 0 <= k["y"] < 1, k
