"""Faults exploratory testing found in `classifier extract|negatives|evaluate` and `infer classify`: each a clear
message naming the bad thing and the right exit status, never a traceback. The inputs are built here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from support.shared import CLASSIFIER, CLASSIFIER_LABELS, IMAGES, MOVENET
from edgeapp.classify.contract import read_labels
from edgeapp.classify.dataset import WriteError, read_csv, write_csv

from .helpers import TRAIN_CSV, TRAIN_IMAGES

POSE = ("--pose-model", MOVENET, "--backend", "cpu")
MODELS = (*POSE, "--classifier", CLASSIFIER, "--labels", CLASSIFIER_LABELS)
BOM = "\ufeff".encode()
TREE = IMAGES / "tfex_pose_image3_tree.jpeg"


def edgeapp(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeapp", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def refused(r: subprocess.CompletedProcess, status: int, *words: str) -> None:
    assert r.returncode == status, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    for word in words:
        assert word in r.stderr, (word, r.stderr)


def undecodable(root: Path) -> Path:
    (root / "tree").mkdir(parents=True)
    (root / "tree" / "x.jpg").write_text("not a photo\n")
    (root / "tree" / "y.jpg").write_bytes(b"")
    return root


# 1. no image decodes

def test_evaluate_on_photos_none_of_which_decode_says_so(tmp_path):
    r = edgeapp("classifier", "evaluate", undecodable(tmp_path / "photos"), *MODELS)
    refused(r, 2, "no usable photo", "tree/x.jpg", "tree/y.jpg")


def test_extract_on_photos_none_of_which_decode_writes_nothing(tmp_path):
    out = tmp_path / "kp.csv"
    r = edgeapp("classifier", "extract", undecodable(tmp_path / "photos"), "--out", out, *POSE)
    refused(r, 2, "no usable photo")
    assert "\nedgeapp: error: no usable photo" in r.stderr  # on its own line, not after the progress
    assert not out.exists()


# 2. bad output paths: refused before any MoveNet work (no progress line), or named when the write fails

def test_bad_output_paths_are_usage_errors_before_the_work(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        (("classifier", "extract", TRAIN_IMAGES, "--out", tmp_path), "--out", "is a folder"),
        (("classifier", "extract", TRAIN_IMAGES, "--out", a_file / "x.csv"), "--out", "is a file, not a folder"),
        (("classifier", "negatives", TREE, "--out", tmp_path), "--out", "is a folder"),
        (("classifier", "evaluate", TRAIN_CSV, "--report", a_file), "--report", "is a file; give a folder"),
        (("classifier", "evaluate", TRAIN_CSV, "--report", "/proc/edgeapp-report"), "--report", "/proc"),
    ]
    for args, option, words in cases:
        r = edgeapp(*args, *POSE)
        refused(r, 2, option, words)
        assert "[1/" not in r.stderr and r.stdout == "", args  # nothing was estimated
    assert a_file.read_text() == "x"


def test_a_failing_write_names_the_path(tmp_path):
    from edgeapp.classify.evaluate import evaluate_table, write_report
    from .helpers import stock_classifier

    table = read_csv(TRAIN_CSV)
    with pytest.raises(WriteError, match="cannot write /proc/edgeapp/x.csv"):
        write_csv(Path("/proc/edgeapp/x.csv"), table)
    classifier = stock_classifier()
    ev = evaluate_table(classifier, table)
    with pytest.raises(WriteError, match="/proc/edgeapp"):
        write_report(ev, None, Path("/proc/edgeapp"), "t")


# 3. skipped photos are listed and reported; one list of image suffixes

def test_evaluate_lists_and_reports_the_photos_it_leaves_out(tmp_path):
    photos = tmp_path / "photos"
    for cls in ("chair", "tree"):
        (photos / cls).mkdir(parents=True)
        for p in sorted((TRAIN_IMAGES / cls).glob("*.jpg")):
            (photos / cls / p.name).symlink_to(p)
    (photos / "tree" / "bad.jpg").write_text("not a photo\n")
    good = len(list(photos.rglob("*.jpg"))) - 1
    r = edgeapp("classifier", "evaluate", photos, *MODELS, "--report", tmp_path / "report")
    assert "Traceback" not in r.stderr, r.stderr
    assert "skipped 1 images:" in r.stderr and "tree/bad.jpg: cannot decode image" in r.stderr
    assert f"of {good} photos" in r.stdout
    report = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert [s["file"] for s in report["skipped"]] == ["tree/bad.jpg"]
    assert "tree/bad.jpg" in (tmp_path / "report" / "evaluation.md").read_text()


def test_extract_reads_the_image_types_infer_reads(tmp_path):
    image = cv2.imread(str(TREE))
    (tmp_path / "photos" / "tree").mkdir(parents=True)
    for suffix in (".webp", ".tif"):
        assert cv2.imwrite(str(tmp_path / "photos" / "tree" / f"a{suffix}"), image)
    out = tmp_path / "kp.csv"
    r = edgeapp("classifier", "extract", tmp_path / "photos", "--out", out, *POSE)
    assert r.returncode == 0, r.stderr
    assert read_csv(out).files == ("tree/a.tif", "tree/a.webp")


# 4. a byte-order mark

def test_a_keypoint_csv_and_labels_with_a_byte_order_mark(tmp_path):
    csv_file, labels = tmp_path / "kp.csv", tmp_path / "labels.txt"
    csv_file.write_bytes(BOM + TRAIN_CSV.read_bytes())
    labels.write_bytes(BOM + CLASSIFIER_LABELS.read_bytes())
    assert read_csv(csv_file).files == read_csv(TRAIN_CSV).files
    assert read_labels(labels) == read_labels(CLASSIFIER_LABELS)
    r = edgeapp("classifier", "evaluate", csv_file, *POSE, "--classifier", CLASSIFIER, "--labels", labels)
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout


# 5. a truncated video still ends the hold

def test_a_truncated_video_ends_the_hold_before_the_error(tmp_path):
    clip = tmp_path / "tree.avi"  # MJPG in AVI: cut in half, the first half still decodes, the header says 150
    image = cv2.imread(str(TREE))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 15, image.shape[1::-1])
    for _ in range(150):
        writer.write(image)
    writer.release()
    data = clip.read_bytes()
    clip.write_bytes(data[:len(data) // 2])
    r = edgeapp("infer", "classify", clip, *MODELS, "--confirm-frames", "2", "--confirm-s", "0")
    refused(r, 2, "tree.avi", "of its 150 frames", "truncated")
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    frames = [o for o in objs if "pose" in o]
    assert 0 < len(frames) < 150
    started = [e for o in frames for e in o["events"] if e["type"] == "started"]
    assert [e["label"] for e in started] == ["tree"]
    last = objs[-1]
    assert "pose" not in last and last["frame"] == frames[-1]["frame"]
    assert [(e["type"], e["label"], e["reason"]) for e in last["events"]] == [("ended", "tree", "finished")]


# 6. thresholds within 0..1

@pytest.mark.parametrize("value", ["2", "nan", "-0.1", "x"])
def test_thresholds_out_of_range_are_usage_errors(tmp_path, value):
    r = edgeapp("classifier", "extract", TRAIN_IMAGES, "--out", tmp_path / "k.csv", *POSE, "--threshold", value)
    refused(r, 2, "--threshold", value)
    assert not (tmp_path / "k.csv").exists()
    r = edgeapp("infer", "classify", TREE, *MODELS, "--threshold", value)
    refused(r, 2, "--threshold", value)


def test_an_unwritable_report_folder_is_found_by_trying(tmp_path):
    from edgeapp.cli.common import output_problem

    assert output_problem(tmp_path / "new" / "report", "--report", folder=True) == ""
    assert not (tmp_path / "new").exists()  # the check leaves nothing behind
    assert "cannot create anything in /proc" in output_problem("/proc/edgeapp", "--report", folder=True)
    assert os.listdir(tmp_path) == []


# 7. photo variants that belong to no training photo, or given where nothing is trained

def test_photo_variants_of_another_dataset_are_refused_before_training(tmp_path):
    csv, others = tmp_path / "k.csv", tmp_path / "v.csv"
    table = read_csv(TRAIN_CSV)
    write_csv(csv, table)
    write_csv(others, type(table)(tuple(f"x/{i}.jpg#mirror" for i in range(len(table))), table.xy, table.scores,
                                  table.class_no, table.labels))
    r = edgeapp("classifier", "train", "--csv", csv, "--photo-variants", others, "--out", tmp_path / "m")
    refused(r, 2, str(others), "none of its rows is a variant")
    assert not (tmp_path / "m").exists()


def test_photo_variants_without_leave_one_person_out_are_a_usage_error(tmp_path):
    r = edgeapp("classifier", "evaluate", TRAIN_CSV, "--photo-variants", TRAIN_CSV, *MODELS)
    refused(r, 2, "--photo-variants", "--by-person")
