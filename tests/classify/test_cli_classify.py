"""`edgeapp infer classify`, `edgeapp classifier extract`, `edgeapp bench classify` as a user runs them."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from support.shared import CLASSIFIER, CLASSIFIER_LABELS, IMAGES, MOVENET, VIDEO
from edgeapp.classify.dataset import HEADER, read_csv

from .helpers import TRAIN_CSV, TRAIN_IMAGES, gated_images


def edgeapp(*args):
    return subprocess.run([sys.executable, "-m", "edgeapp", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


MODELS = ("--pose-model", MOVENET, "--classifier", CLASSIFIER, "--labels", CLASSIFIER_LABELS, "--backend", "cpu")


def test_infer_classify_tree_image():
    r = edgeapp("infer", "classify", IMAGES / "tfex_pose_image3_tree.jpeg", *MODELS)
    assert r.returncode == 0, r.stderr
    (obj,) = lines(r.stdout)
    assert obj["label"] == "tree" and obj["status"] == "ok" and obj["score"] > 0.9
    assert list(obj["scores"])[0] == "tree" and len(obj["scores"]) == 3
    assert len(obj["pose"]["keypoints"]) == 17
    assert obj["hold"] is None and obj["events"] == []  # a still image holds nothing


def test_infer_classify_defaults_come_from_the_registry():
    r = edgeapp("infer", "classify", IMAGES / "tfex_pose_image3_tree.jpeg", "--models-dir", CLASSIFIER.parent.parent,
                "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    assert lines(r.stdout)[0]["label"] == "tree"


def test_infer_classify_video_has_hold_state_in_frame_time():
    r = edgeapp("infer", "classify", VIDEO / "carving_ice.mp4", *MODELS, "--confirm-frames", "2", "--confirm-s", "0")
    assert r.returncode == 0, r.stderr
    objs = lines(r.stdout)
    frames = [o for o in objs if "frame" in o and "pose" in o]
    assert len(frames) == 200
    assert frames[30]["time"] == pytest.approx(1.0, abs=1e-3)  # 30 fps media time, not wall time
    assert all(set(o["hold"]) == {"current", "held_s", "started_at", "candidate", "candidate_frames"} for o in frames)
    assert all((o["label"] is None) == (o["status"] != "ok") for o in frames)
    assert {o["status"] for o in frames} <= {"ok", "other", "no confident pose", "degenerate pose", "no pose"}


def test_infer_classify_bad_sidecar_is_a_clear_error(tmp_path):
    model = tmp_path / "m.tflite"
    shutil.copyfile(CLASSIFIER, model)
    (tmp_path / "m.contract.json").write_text('{"schema": 1, "order": "x,y", "units": "pixels"}')
    r = edgeapp("infer", "classify", IMAGES / "tfex_pose_image3_tree.jpeg", "--pose-model", MOVENET,
                "--classifier", model, "--labels", CLASSIFIER_LABELS, "--backend", "cpu")
    assert r.returncode == 2 and r.stdout == ""
    assert "m.contract.json" in r.stderr and "'x,y'" in r.stderr


def test_infer_classify_bad_options():
    r = edgeapp("infer", "classify", IMAGES / "tfex_pose_image3_tree.jpeg", *MODELS, "--threshold", "2")
    assert r.returncode == 2 and "--threshold" in r.stderr
    r = edgeapp("infer", "classify", IMAGES / "tfex_pose_image3_tree.jpeg", *MODELS, "--confirm-frames", "-1")
    assert r.returncode == 2 and "confirm-frames" in r.stderr


def test_classifier_extract(tmp_path):
    out = tmp_path / "kp.csv"
    r = edgeapp("classifier", "extract", TRAIN_IMAGES, "--out", out, "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    # every photo is kept by default: the classifier is trained to do without a missed joint
    assert "wrote 10 rows" in r.stdout and "x, y (pixels), score" in r.stdout and "skipped" not in r.stdout
    assert out.read_text().splitlines()[0] == ",".join(HEADER)
    table = read_csv(out)
    assert table.labels == ("chair", "cobra", "dog", "tree", "warrior")
    assert [f.split("/")[0] for f in table.files] == [table.labels[c] for c in table.class_no]


def test_classifier_extract_with_the_samples_gate(tmp_path):
    out = tmp_path / "kp.csv"
    r = edgeapp("classifier", "extract", TRAIN_IMAGES, "--out", out, "--pose-model", MOVENET, "--backend", "cpu",
                "--threshold", "0.1")
    assert r.returncode == 0, r.stderr
    gated = gated_images()  # what the TF sample's gate refuses on this platform (see helpers.FRAGILE)
    assert f"wrote {10 - len(gated)} rows" in r.stdout
    for name in gated:
        assert f"\n  {name}: no confident pose (min keypoint score 0.0" in r.stdout
    assert ("skipped" in r.stdout) == bool(gated)
    table = read_csv(out)
    assert not set(gated) & set(table.files) and (table.scores >= 0.1).all()


def test_classifier_extract_needs_class_folders(tmp_path):
    r = edgeapp("classifier", "extract", tmp_path, "--out", tmp_path / "k.csv", "--pose-model", MOVENET,
                "--backend", "cpu")
    assert r.returncode == 2 and "no class folders" in r.stderr


def test_bench_classify_reports_the_cost_per_frame():
    r = edgeapp("bench", "classify", "--source", VIDEO / "carving_ice.mp4", *MODELS, "--frames", "30",
                "--warmup", "3", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["frames"] + report["frames_refused"] == 30 and report["benchmark"] == "classify"
    assert report["frames"] > 0 and report["classify"]["n"] == report["frames"] and report["classify"]["p50_ms"] > 0
    # Measured, not asserted as a speed: only that both figures are there to compare.
    assert report["pose_path"]["p50_ms"] > 0 and report["classify_pct_of_pose_p50"] is not None
    assert report["keypoint_filter"]["n"] == report["frames"]
    assert report["filter_and_classify_pct_of_pose_p50"] is not None


def test_bench_classify_loops_a_short_source():
    r = edgeapp("bench", "classify", "--source", IMAGES / "tfex_pose_image3_tree.jpeg", *MODELS, "--frames", "5",
                "--warmup", "1")
    assert r.returncode == 0, r.stderr
    assert "5 classified frames" in r.stdout
    assert "classify (guard+features+invoke+probability smoothing+open set)" in r.stdout
    assert "One Euro keypoint filter" in r.stdout and "with the keypoint filter" in r.stdout  # its cost in sight


def test_the_runtime_never_imports_tensorflow():
    code = ("import sys, edgeapp.classify, edgeapp.classify.extract, edgeapp.bench.classify, edgeapp.cli.classify; "
            "from edgeapp.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'matplotlib')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None, reason="TensorFlow is installed here")
def test_train_without_tensorflow_says_how_to_get_it(tmp_path):
    from .helpers import TRAIN_CSV

    r = edgeapp("classifier", "train", "--csv", TRAIN_CSV, "--out", tmp_path / "out")
    assert r.returncode == 2 and "needs TensorFlow" in r.stderr and "edgeapp[train]" in r.stderr


def _no_traceback(r):
    assert "Traceback" not in r.stderr and r.stderr.strip(), r.stderr


def test_evaluate_with_classes_the_model_does_not_have(tmp_path):
    (tmp_path / "squat").mkdir()
    (tmp_path / "squat" / "a.bmp").symlink_to(IMAGES / "squat.bmp")
    r = edgeapp("classifier", "evaluate", tmp_path, "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 2 and "['squat'] are not among the model's labels" in r.stderr
    _no_traceback(r)


def test_train_on_one_class_is_refused(tmp_path):
    one = tmp_path / "one.csv"
    rows = TRAIN_CSV.read_text().splitlines()
    one.write_text("\n".join([rows[0]] + [r for r in rows[1:] if r.endswith(",tree")]).replace(",3,tree", ",0,tree"))
    r = edgeapp("classifier", "train", "--csv", one, "--out", tmp_path / "out")
    assert r.returncode == 2 and "at least 2 classes" in r.stderr and "['tree']" in r.stderr
    _no_traceback(r)


@pytest.mark.parametrize("command", [("classifier", "train", "--out", "OUT", "--csv"), ("classifier", "evaluate")])
def test_a_csv_with_missing_columns_is_named(tmp_path, command):
    bad = tmp_path / "bad.csv"
    header = ",".join(h for h in HEADER if h != "LEFT_EAR_score")
    bad.write_text(header + "\n")
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    r = edgeapp(*args, bad)
    assert r.returncode == 2 and "bad.csv" in r.stderr and "LEFT_EAR_score" in r.stderr
    _no_traceback(r)


def test_evaluate_prints_the_figures_and_writes_the_png(tmp_path):
    r = edgeapp("classifier", "evaluate", TRAIN_IMAGES, "--pose-model", MOVENET, "--backend", "cpu",
                "--negatives", IMAGES / "tfex_table.jpg", IMAGES / "tfex_pose_image2.jpeg", "--report", tmp_path)
    assert "| true \\ predicted | chair | cobra | dog | tree | warrior | other | refused |" in r.stdout
    assert "of 10 photos" in r.stdout and "negatives: 14 poses" in r.stdout
    assert (tmp_path / "evaluation.md").is_file() and (tmp_path / "evaluation.json").is_file()
    if importlib.util.find_spec("matplotlib") is None:  # the runtime profile: says how to get the PNG
        assert r.returncode == 2 and "needs matplotlib" in r.stderr and "Traceback" not in r.stderr
        return
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("options, named", [((), "--by-person"), (("--by-person",), "--negatives")])
def test_held_out_negatives_without_what_they_need_is_a_usage_error(tmp_path, options, named):
    from edgeapp.classify.dataset import KeypointTable, write_csv

    poses = read_csv(TRAIN_CSV)
    negatives = tmp_path / "neg.csv"
    write_csv(negatives, KeypointTable(poses.files[:3], poses.xy[:3], poses.scores[:3], poses.class_no[:3] * 0,
                                       ("other",)))
    r = edgeapp("classifier", "train", "--csv", TRAIN_CSV, "--held-out-negatives", negatives, *options,
                "--out", tmp_path / "out")
    assert r.returncode == 2 and "--held-out-negatives" in r.stderr and named in r.stderr, r.stderr
    _no_traceback(r)
    assert not (tmp_path / "out").exists()  # refused before any training


@pytest.fixture(scope="module")
def two_poses_clip(tmp_path_factory):
    """Eight frames (mp4v, 15 fps), two of the tree photo and two of a warrior in turn: smoothing carries one
    pose into the next, classifying each frame on its own does not."""
    import cv2

    tree = cv2.imread(str(IMAGES / "tfex_pose_image3_tree.jpeg"))
    h, w = (tree.shape[0] // 2) * 2, (tree.shape[1] // 2) * 2
    warrior = cv2.resize(cv2.imread(str(IMAGES / "posenet_test_image.bmp")), (w, h))
    path = tmp_path_factory.mktemp("clip") / "two.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (w, h))
    for i in range(8):
        writer.write(tree[:h, :w] if i % 4 < 2 else warrior)
    writer.release()
    return path, (w, h)


def test_classifier_negatives_mines_photos_and_videos(tmp_path, two_poses_clip):
    clip, _ = two_poses_clip
    out = tmp_path / "neg.csv"
    r = edgeapp("classifier", "negatives", IMAGES / "tfex_table.jpg", clip, "--still-every", "5", "--out", out,
                "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    # the photo: itself, its mirror and 5 crops; the clip: 8 frames in video mode, frames 0 and 5 also as stills
    assert f"wrote {7 + 8 + 2 * 7} rows of class 'other' to {out}" in r.stdout
    table = read_csv(out)
    assert table.labels == ("other",) and (table.class_no == 0).all()
    assert table.files[:2] == ("tfex_table.jpg#0/full", "tfex_table.jpg#0/mirror")
    assert [f for f in table.files if f.startswith("two.mp4#5/")] == [
        "two.mp4#5/video", *(f"two.mp4#5/{v}" for v in ("full", "mirror", "top", "bottom", "left", "right",
                                                         "centre"))]


def test_classifier_negatives_bad_input(tmp_path):
    r = edgeapp("classifier", "negatives", IMAGES / "tfex_table.jpg", "--still-every", "0", "--out", tmp_path / "n.csv")
    assert r.returncode == 2 and "--still-every must be at least 1" in r.stderr
    r = edgeapp("classifier", "negatives", tmp_path / "no-such.mp4", "--out", tmp_path / "n.csv",
                "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 2 and "no-such.mp4" in r.stderr and not (tmp_path / "n.csv").exists()
    _no_traceback(r)


def test_bench_smoothing_reports_jitter_and_lag():
    r = edgeapp("bench", "smoothing", IMAGES / "tfex_pose_image3_tree.jpeg", "--pose-model", MOVENET,
                "--backend", "cpu", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["benchmark"] == "smoothing" and report["frames"] == 60 and report["speed_px_s"] == 60.0
    jitter = report["still_jitter_px"]
    # MoveNet's own scatter on a still person is pixels; the filter takes ~5% of it at 15 fps (never adds any)
    assert 0.0 < jitter["filtered"] < jitter["raw"]
    # the lag in seconds is the lag in pixels over the speed; here both are tiny (a fraction of a pixel)
    assert report["moving_lag_s"] == pytest.approx(report["moving_lag_px"] / 60.0, abs=1e-3)
    assert abs(report["moving_lag_px"]) < 5.0
    r = edgeapp("bench", "smoothing", IMAGES / "tfex_pose_image3_tree.jpeg", "--fps", "5", "--speed", "30",
                "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 0, r.stderr
    assert "still person (20 frames at 5 fps, sensor noise 3)" in r.stdout and "moving person (30 px/s)" in r.stdout


def test_bench_smoothing_bad_input(tmp_path):
    for fps in ("0", "nan", "inf"):
        r = edgeapp("bench", "smoothing", IMAGES / "tfex_pose_image3_tree.jpeg", "--fps", fps)
        assert r.returncode == 2 and "--fps and --speed must be finite numbers above 0" in r.stderr, r.stderr
    r = edgeapp("bench", "smoothing", tmp_path / "missing.jpg", "--pose-model", MOVENET, "--backend", "cpu")
    assert r.returncode == 2 and "missing.jpg" in r.stderr
    _no_traceback(r)


def test_infer_classify_no_smoothing_classifies_each_frame_on_its_own(two_poses_clip):
    from edgeapp.pose import Pose

    from .helpers import stock_classifier

    clip, size = two_poses_clip
    r = edgeapp("infer", "classify", clip, *MODELS, "--no-smoothing")
    assert r.returncode == 0, r.stderr
    frames = [o for o in lines(r.stdout) if "pose" in o]
    assert [o["frame"] for o in frames] == list(range(8))
    classifier = stock_classifier()
    # each answer is the printed pose's own, as a still image's would be (the printed keypoints are rounded to
    # 4 digits and clamped to the frame: the probabilities agree to 0.04; the stock model on Lightning keypoints
    # moved by 0.028 for the rounding alone on the Pi profile's frame 2, the crop of a tree on a warrior)
    for o in frames:
        kp = o["pose"]["keypoints"]
        own = classifier.classify(Pose(np.array([[k["x"], k["y"]] for k in kp]), np.array([k["score"] for k in kp]),
                                       size))
        assert (o["label"], o["status"]) == (own.label, own.status), o["frame"]
        assert o["scores"] == pytest.approx(dict(own.top), abs=0.04), o["frame"]
    assert [o["label"] for o in frames[:2]] == ["tree", "tree"]


def test_infer_classify_no_smoothing_bad_input(tmp_path):
    r = edgeapp("infer", "classify", tmp_path / "missing.mp4", *MODELS, "--no-smoothing")
    assert r.returncode == 2 and "missing.mp4" in r.stderr
    _no_traceback(r)
