"""The shipped yoga model (models/yoga-lightning), the default of `infer classify` and the service:
trained on Lightning INT8 keypoints, with an open-set "other" answer. End to end, as a user runs it."""

from __future__ import annotations

import json

import pytest

from support.clip_variants import rewrite
from support.shared import IMAGES, MOVENET, REPO, VIDEO
from edgeapp.bench.preview import make_pose_clip
from edgeapp.classify.classifier import PoseClassifier
from edgeapp.classify.contract import load_contract, sidecar_path
from edgeapp.classify.dataset import read_csv
from edgeapp.classify.evaluate import evaluate_table
from edgeapp.registry import DEFAULT_MODELS, Registry

from .helpers import TEST_CSV, YOGA, cpu, image_name, stock_classifier, still_pose, training_images
from .test_cli_classify import edgeapp, lines

SHIPPED = REPO / "models" / "yoga-lightning" / "classifier.tflite"
POSE = ("--pose-model", MOVENET, "--backend", "cpu")


@pytest.fixture(scope="module")
def device():
    return PoseClassifier.open(SHIPPED, request=cpu())


def test_the_shipped_model_is_the_registered_default():
    reg = Registry(models_dir=REPO / "no-such-dir")  # shipped: found beside the manifest, not downloaded
    assert DEFAULT_MODELS["classify"] == "yoga-lightning"
    assert reg.resolve("yoga-lightning", "classify").cpu == SHIPPED
    (verdict,) = reg.verify(["yoga-lightning"])
    assert verdict.ok, verdict  # the manifest's sha256 is the file's
    assert SHIPPED.stat().st_size < 100_000


def test_its_contract_carries_the_open_set_calibration():
    c = load_contract(sidecar_path(SHIPPED))
    assert c.labels == ("chair", "cobra", "dog", "tree", "warrior", "other") and c.other_label == "other"
    assert c.other_threshold is not None and 0.0 < c.other_threshold < 1.0
    assert "leave-one-person-out" in c.calibration["method"]
    report = json.loads((SHIPPED.parent / "report.json").read_text())
    people = report["leave_one_person_out"]["people"]
    assert {p["person"] for p in people} >= {"girl1", "girl2", "girl3", "guy1", "guy2"}


@pytest.mark.parametrize("path", training_images(), ids=image_name)
def test_each_shared_training_image_gets_its_folders_label(device, path):
    result = device.classify(still_pose(path))
    assert result.label == path.parent.name and result.status == "ok", result


# guy3, the dataset's test split: a sixth person, in no training row of either model, with keypoints from other
# people's pipelines (no photos of guy3 are shared). The tutorial's own CSV (MoveNet Thunder, the 425 photos its
# every-keypoint gate kept) and nntruong1907/MoveNet_Yoga's (all 495 photos; its columns hold y, x, score).
GUY3 = {"tutorial": (TEST_CSV, "xy"), "nntruong1907": (YOGA / "alt_nntruong1907" / "yoga_test_data.csv", "yx")}


@pytest.mark.parametrize("source", GUY3)
def test_a_person_no_model_was_trained_on(device, source):
    path, columns = GUY3[source]
    table = read_csv(path, columns=columns)
    mine, stock = evaluate_table(device, table), evaluate_table(stock_classifier(), table)
    print(f"guy3 ({source}, {mine.n} photos): shipped right {mine.accuracy:.1%}, other {mine.share('other'):.1%}, "
          f"refused {mine.share('refused'):.1%}; stock right {stock.accuracy:.1%}")
    assert mine.accuracy >= stock.accuracy  # the stock model was trained on these five people too
    assert mine.share("other") + mine.share("refused") <= 0.01  # the budget for true poses
    if source == "tutorial":
        assert mine.accuracy >= 0.98  # the target, on the dataset's own test split


def test_tree_image_through_the_default_cli():
    r = edgeapp("infer", "classify", IMAGES / "tfex_pose_image3_tree.jpeg", *POSE)
    assert r.returncode == 0, r.stderr
    (obj,) = lines(r.stdout)
    assert obj["label"] == "tree" and obj["status"] == "ok"


def test_an_image_without_a_person_is_no_pose():
    r = edgeapp("infer", "classify", IMAGES / "tfex_table.jpg", *POSE)
    assert r.returncode == 0, r.stderr
    (obj,) = lines(r.stdout)
    seen = sum(k["score"] >= 0.1 for k in obj["pose"]["keypoints"])
    # OpenCV 5.0 (default profile): MoveNet sees 2 joints on the table, "no pose". OpenCV 4.11 (Pi profile):
    # its resize makes MoveNet score 8 joints over 0.1 on the cup and book, a body to the guard, which the
    # model then answers "other". Never a yoga label either way.
    assert obj["label"] is None and obj["status"] == ("no pose" if seen < 3 else "other"), (seen, obj["status"])


@pytest.mark.parametrize("variant", [{}, dict(mirror=True), dict(scale=0.5)], ids=["as is", "mirrored", "half size"])
@pytest.mark.parametrize("clip", ["opencv_vtest_30s_h264.mp4", "carving_ice.mp4"])
def test_no_hold_is_confirmed_where_nobody_does_yoga(clip, variant, tmp_path):
    """The clips the negatives were mined from, and the same clips as another camera would give them."""
    path = rewrite(VIDEO / clip, tmp_path / clip, **variant) if variant else VIDEO / clip
    r = edgeapp("infer", "classify", path, *POSE)
    assert r.returncode == 0, r.stderr
    events = [e for obj in lines(r.stdout) for e in obj["events"]]
    assert [e for e in events if e["type"] == "started"] == []


@pytest.mark.parametrize("variant", [{}, dict(mirror=True), dict(scale=0.5)], ids=["as is", "mirrored", "half size"])
def test_the_tree_clip_holds_tree_for_its_length(tmp_path, variant):
    clip = make_pose_clip(IMAGES / "tfex_pose_image3_tree.jpeg", tmp_path / "tree.mp4", frames=45, fps=15.0)
    if variant:
        clip = rewrite(clip, tmp_path / "variant.mp4", **variant)
    r = edgeapp("infer", "classify", clip, *POSE)
    assert r.returncode == 0, r.stderr
    events = [e for obj in lines(r.stdout) for e in obj["events"]]
    kinds = [(e["type"], e["label"]) for e in events]
    assert kinds[0] == ("started", "tree") and kinds[-1] == ("ended", "tree")
    assert [k for k in kinds if k[0] == "started"] == [("started", "tree")]
    # From the first frame to the last. The first frame has no crop to start from; with one whole-frame pass
    # the models answered it "other" (0.94-0.96) and the average over time carried that into the next frames
    # (the hold started on frame 1 or 2). Its second pass, in the crop the first gave, answers tree.
    # The same for the clip mirrored and at half size. (The model shipped before, trained without photo variants,
    # had this photo near its `other` threshold: the Pi profile's mirrored first frame was `other`, 0.736 > 0.734.)
    assert events[-1]["held_s"] >= 44 / 15 - 0.005


def test_the_stock_model_stays_selectable():
    r = edgeapp("infer", "classify", IMAGES / "tfex_pose_image3_tree.jpeg", *POSE, "--classifier", "yoga-classifier")
    if r.returncode == 2 and "not in" in r.stderr:
        pytest.skip("the stock model is not pulled into the models directory here")
    assert r.returncode == 0, r.stderr
    (obj,) = lines(r.stdout)
    assert obj["label"] == "tree"
