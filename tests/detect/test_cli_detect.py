"""``edgeapp infer detect`` and ``bench detect`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from support.shared import COCO_LABELS, IMAGES, MODELS, SSD, VIDEO


def edgeapp(*args, env_models=None):
    import os

    env = {**os.environ, "EDGEAPP_MODELS_DIR": str(env_models)} if env_models else None
    return subprocess.run([sys.executable, "-m", "edgeapp", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_infer_detect_on_the_cat():
    r = edgeapp("infer", "detect", IMAGES / "cat.bmp", "--model", SSD, "--labels", COCO_LABELS, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    (obj,) = lines(r.stdout)
    assert obj["frame"] == 0 and obj["backend"] == "cpu"
    (cat,) = obj["detections"]
    assert cat["id"] is None and cat["label"] == "cat"  # one still image confirms no track: no id and cat["score"] > 0.7 and len(cat["box"]) == 4


def test_infer_detect_filters_and_threshold():
    r = edgeapp("infer", "detect", IMAGES / "kite_and_cold.jpg", "--model", SSD, "--labels", COCO_LABELS,
                "--backend", "cpu", "--threshold", "0.4", "--labels-allow", "person,kite", "--max-results", "4")
    assert r.returncode == 0, r.stderr
    dets = lines(r.stdout)[0]["detections"]
    assert 0 < len(dets) <= 4 and {d["label"] for d in dets} <= {"person", "kite"}
    assert all(d["score"] >= 0.4 for d in dets) and all(d["id"] is None for d in dets)  # a still: no tracks


def test_infer_detect_on_a_video_keeps_ids():
    r = edgeapp("infer", "detect", VIDEO / "opencv_vtest_30s_h264.mp4", "--model", SSD, "--labels", COCO_LABELS,
                "--backend", "cpu", "--labels-allow", "person")
    assert r.returncode == 0, r.stderr
    objs = lines(r.stdout)
    assert [o["frame"] for o in objs] == list(range(300))
    ids = [d["id"] for o in objs for d in o["detections"] if d["id"] is not None]
    assert len(ids) > 1000 and len(set(ids)) < len(ids) / 20  # ids carry over from frame to frame


def test_infer_detect_by_registry_name(tmp_path):
    assert edgeapp("models", "import", MODELS, "ssd-mobilenet-v1-coco", "coco-labels",
                   env_models=tmp_path).returncode == 0
    r = edgeapp("infer", "detect", IMAGES / "posenet_test_image.bmp", "--backend", "cpu", env_models=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sum(d["label"] == "person" for d in lines(r.stdout)[0]["detections"]) >= 2


def test_bad_label_is_a_config_error():
    r = edgeapp("infer", "detect", IMAGES / "cat.bmp", "--model", SSD, "--labels", COCO_LABELS,
                "--labels-allow", "persn", "--backend", "cpu")
    assert r.returncode == 78
    assert "detect.labels_allow: 'persn' is not a label" in r.stderr and "did you mean 'person'" in r.stderr


def test_bench_detect_reports_invoke_and_path():
    r = edgeapp("bench", "detect", "--model", SSD, "--labels", COCO_LABELS, "--source",
                VIDEO / "opencv_vtest_30s_h264.mp4", "--frames", "20", "--warmup", "2", "--backend", "cpu", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["benchmark"] == "detect" and report["frames"] == 20
    assert 0 < report["invoke"]["p50_ms"] <= report["detect_path"]["p50_ms"]
    assert report["detections_per_frame"] > 0 and report["tracker"]["n"] == 20
