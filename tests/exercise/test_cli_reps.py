"""``edgeapp infer reps`` as a user runs it: the shared squat clip, a clip with nobody, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from support.clip_variants import rewrite
from support.shared import IMAGES, MOVENET, VIDEO

SQUATS = VIDEO / "exercise" / "squats_band.mp4"


def edgeapp(*args):
    return subprocess.run([sys.executable, "-m", "edgeapp", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def squats():
    r = edgeapp("infer", "reps", SQUATS, "--exercise", "squat", "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    return lines(r.stdout)


def test_the_squat_clip_gives_exactly_two_reps_with_depth_and_duration(squats):
    frames = [o for o in squats if not o.get("final")]
    assert len(frames) == 65 and [o["frame"] for o in frames] == list(range(65))
    for o in frames:
        assert o["exercise"] == "squat" and o["phase"] in ("up", "down", None)
        assert {"frame", "time", "reps", "signal", "events"} <= set(o)
    reps = [e for o in frames for e in o["events"] if e["type"] == "rep"]
    assert [r["count"] for r in reps] == [1, 2] and frames[-1]["reps"] == 2
    for r in reps:
        assert r["depth"] <= 120  # reached the down zone: deeper than a quarter squat
        assert 0.5 <= r["duration_s"] <= 5.0 and r["down_s"] > 0 and r["up_s"] > 0
        assert r["duration_s"] == pytest.approx(r["down_s"] + r["up_s"], abs=0.002)
    # The third descent ends at the bottom with the clip: it is in the down phase, not a rep.
    assert frames[-1]["phase"] == "down"
    (final,) = [o for o in squats if o.get("final")]
    assert final["reps"] == 2
    assert [(e["type"], e["set_reps"], e["reason"]) for e in final["events"]] == [("set_ended", 2, "finished")]


@pytest.mark.parametrize("variant", [dict(mirror=True), dict(speed=2.0), dict(scale=0.5), dict(between=2)],
                         ids=["mirrored", "played twice as fast", "half size", "three times the frame rate"])
def test_the_clip_as_another_camera_gives_it_counts_the_same(tmp_path, variant):
    """Both sides are treated alike, every limit is in seconds of frame time (not frames), nothing depends on the
    frame's size in pixels, and the keypoint filter follows the frame rate."""
    path = rewrite(SQUATS, tmp_path / "variant.mp4", **variant)
    r = edgeapp("infer", "reps", path, "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    reps = [e for o in out for e in o["events"] if e["type"] == "rep"]
    assert [e["count"] for e in reps] == [1, 2]
    assert all(e["depth"] <= 120 for e in reps)
    scale = 1 / variant.get("speed", 1.0)
    assert all(1.5 * scale < e["duration_s"] < 3.0 * scale for e in reps)


def test_a_clip_with_nobody_gives_no_reps_and_no_error(tmp_path):
    path = tmp_path / "empty_room.mp4"
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    wall = np.full((240, 320, 3), (170, 180, 190), np.uint8)
    for _ in range(40):
        writer.write(np.clip(wall + rng.normal(0, 4, wall.shape), 0, 255).astype(np.uint8))
    writer.release()
    r = edgeapp("infer", "reps", path, "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    out = lines(r.stdout)
    assert len(out) == 41 and all(o["reps"] == 0 for o in out)
    assert not [e for o in out for e in o["events"]]


def test_a_still_image_is_a_usage_error():
    r = edgeapp("infer", "reps", IMAGES / "squat.bmp", "--pose-model", MOVENET)
    assert r.returncode == 2 and "need a video" in r.stderr and "Traceback" not in r.stderr


def test_an_unknown_exercise_is_a_usage_error_naming_the_option():
    r = edgeapp("infer", "reps", SQUATS, "--exercise", "plank", "--pose-model", MOVENET)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--exercise" in r.stderr and "'plank'" in r.stderr and "squat" in r.stderr


@pytest.mark.parametrize("table, key, words", [
    ({"signal": "angle", "joints": ["hip", "knee", "ankle"], "up": 100.0, "down": 120.0}, "exercise.deep.up",
     "must be above down"),
    ({"signal": "angle", "joints": ["hip", "kneee", "ankle"], "up": 150.0, "down": 110.0}, "exercise.deep.joints[1]",
     "unknown joint 'kneee'"),
    ({"signal": "angle", "joints": ["hip", "knee"], "up": 150.0, "down": 110.0}, "exercise.deep.joints",
     "needs 3 joints"),
    ({"signal": "speed", "joints": ["hip", "knee"], "up": 1.0, "down": 0.0}, "exercise.deep.signal", "must be one of"),
    ({"joints": ["hip", "knee", "ankle"], "up": 150.0, "down": 110.0}, "exercise.deep.signal", "is required"),
    ({"signal": "angle", "joints": ["hip", "knee", "ankle"], "up": 150.0, "down": 110.0, "depth": 3},
     "exercise.deep.depth", "unknown key"),
])
def test_a_bad_definition_is_a_config_error_naming_the_key(tmp_path, table, key, words):
    config = tmp_path / "reps.toml"
    config.write_text("[exercise.deep]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()))
    r = edgeapp("infer", "reps", SQUATS, "--config", config, "--exercise", "deep", "--pose-model", MOVENET)
    assert r.returncode == 78 and "Traceback" not in r.stderr, r.stderr
    assert key in r.stderr and words in r.stderr


def test_a_user_exercise_from_the_config_counts(tmp_path):
    config = tmp_path / "reps.toml"
    config.write_text('[reps]\nexercise = "deep_squat"\n\n[exercise.deep_squat]\nsignal = "angle"\n'
                      'joints = ["hip", "knee", "ankle"]\nup = 150.0\ndown = 60.0\n')
    r = edgeapp("infer", "reps", SQUATS, "--config", config, "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert {o["exercise"] for o in out} == {"deep_squat"}
    assert out[-1]["reps"] == 0  # nobody in the clip bends the knee to 60 deg


def test_the_service_config_check_names_reps_keys(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[tasks]\nreps = true\n\n[reps]\nexercise = "plank"\n')
    r = edgeapp("config", "check", config)
    assert r.returncode == 78 and "reps.exercise" in r.stderr and "'plank'" in r.stderr
    config.write_text('[tasks]\npose = false\ndetect = true\nreps = true\n')
    r = edgeapp("config", "check", config)
    assert r.returncode == 78 and "tasks.reps" in r.stderr


def test_a_config_with_a_byte_order_mark_is_read_and_a_latin1_one_named(tmp_path):
    config = tmp_path / "reps.toml"
    # a BOM (Windows editors) is read past: the config's exercise is the one refused, not the file
    config.write_bytes("\ufeff[reps]\nexercise = \"no_such\"\n".encode())
    r = edgeapp("infer", "reps", SQUATS, "--config", config, "--pose-model", MOVENET)
    assert r.returncode == 78 and "reps.exercise" in r.stderr and "'no_such'" in r.stderr, r.stderr
    config.write_bytes("# Kniebeuge für Anfänger\n[reps]\n".encode("latin-1"))
    r = edgeapp("infer", "reps", SQUATS, "--config", config, "--pose-model", MOVENET)
    assert r.returncode == 78 and str(config) in r.stderr and "UTF-8" in r.stderr and "Traceback" not in r.stderr
