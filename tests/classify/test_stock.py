"""The stock yoga classifier through our runtime: the CSV in its real order, images end to end.

The order, once and for all: ``yoga/test_data.csv`` (the tutorial's output) has columns
NOSE_x, NOSE_y, NOSE_score, ... and they hold what they say, x then y, in pixels. The
stock model takes (y, x, score) per keypoint (what the TF RPi/Android samples feed).
So the table is read as named, and the contract's ``yx`` order swaps the pair when the
model input is built. Feeding the columns straight through, (x, y, score), is the trap
of tensorflow#55521 and must fail loudly in accuracy, as it does below.
"""

from __future__ import annotations

import numpy as np
import pytest

from support.shared import IMAGES
from edgeapp.classify.classifier import DEGENERATE_POSE, NO_CONFIDENT_POSE, NO_POSE
from edgeapp.classify.contract import encode_table, write_contract, ClassifierContract
from edgeapp.classify.classifier import PoseClassifier
from edgeapp.classify.dataset import read_csv

from .helpers import (BELOW_GATE, FRAGILE, TEST_CSV, TRAIN_IMAGES, YOGA, copy_stock_model, cpu, image_name,
                      stock_classifier, still_pose, synthetic_pose, training_images)


def accuracy(classifier, table, order) -> float:
    probs = classifier.predict_table(encode_table(table.xy, table.scores, order))
    return float((probs.argmax(axis=1) == table.class_no).mean())


@pytest.fixture(scope="module")
def stock():
    return stock_classifier()


def test_stock_model_on_the_tutorial_test_csv_in_its_real_order(stock):
    table = read_csv(TEST_CSV)  # columns as named: x, y, score
    assert len(table) == 425 and table.labels == stock.labels == ("chair", "cobra", "dog", "tree", "warrior")
    # The first row's nose: 150 px from the left, 101 px from the top of a 300x300 image (x first).
    assert tuple(table.xy[0, 0]) == (150.0, 101.0)
    assert stock.contract.order == "yx"  # no sidecar: the stock contract
    acc = accuracy(stock, table, stock.contract.order)
    assert acc >= 0.99, acc
    print(f"stock yoga classifier on test_data.csv fed (y, x): {acc:.1%} of {len(table)}")


def test_the_wrong_order_is_the_tensorflow_55521_failure(stock):
    table = read_csv(TEST_CSV)
    acc = accuracy(stock, table, "xy")
    assert acc < 0.05, acc  # near-random or worse: transposed poses
    print(f"stock yoga classifier on test_data.csv fed (x, y): {acc:.1%} of {len(table)}")


def test_a_sidecar_decides_the_order_the_runtime_feeds(tmp_path):
    """The same stock weights declared as taking (x, y, score): the runtime obeys the sidecar,
    so the wrong declaration shows up as the wrong order (and the right one as the right)."""
    model = copy_stock_model(tmp_path)
    labels = ("chair", "cobra", "dog", "tree", "warrior")
    tree = still_pose(IMAGES / "tfex_pose_image3_tree.jpeg")
    write_contract(tmp_path / "model.contract.json", ClassifierContract("xy", "pixels", labels))
    assert PoseClassifier.open(model, request=cpu()).classify(tree).label != "tree"
    write_contract(tmp_path / "model.contract.json", ClassifierContract("yx", "pixels", labels))
    assert PoseClassifier.open(model, request=cpu()).classify(tree).label == "tree"


def test_mislabelled_csv_is_read_with_columns_yx(stock):
    path = YOGA / "alt_nntruong1907" / "yoga_test_data.csv"
    assert accuracy(stock, read_csv(path, columns="yx"), "yx") > 0.95
    assert accuracy(stock, read_csv(path), "yx") < 0.2  # taken at their word, the names are wrong


def test_tree_image_end_to_end(stock):
    pose = still_pose(IMAGES / "tfex_pose_image3_tree.jpeg")
    assert pose.min_score >= stock.threshold
    result = stock.classify(pose)
    assert result.label == "tree" and result.status == "ok"
    assert result.score > 0.9
    assert [label for label, _ in result.top][0] == "tree" and len(result.top) == 3
    assert result.to_dict()["scores"]["tree"] == round(result.score, 4)


@pytest.mark.parametrize("path", training_images(), ids=image_name)
def test_each_shared_training_image_gets_its_folders_label(stock, path):
    pose = still_pose(path)
    folder = path.parent.name
    result = stock.classify(pose)
    if image_name(path) == BELOW_GATE and result.label != folder:
        # No gate any more: Lightning INT8's pose of this photo (ankles ~130 px off the tutorial's Thunder
        # keypoints, nose 0.07-0.12) reads as cobra to the stock model, which never saw Lightning keypoints.
        # The device model (test_device_model.py) is trained on what Lightning sees and gets it right.
        pytest.xfail("the stock model on Lightning keypoints: " + FRAGILE[BELOW_GATE])
    if image_name(path) in FRAGILE and result.label != folder:
        assert folder in [label for label, _ in result.top[:2]]  # the runner-up, at worst
        pytest.xfail(FRAGILE[image_name(path)])
    assert result.label == folder, result


def test_all_ten_training_images_are_there():
    assert len(training_images()) == 10
    assert sorted({p.parent.name for p in training_images()}) == sorted(p.name for p in TRAIN_IMAGES.iterdir())


def test_no_pose_and_unconfident_poses_are_not_guessed(stock):
    assert stock.classify(None).status == NO_POSE and stock.classify(None).label is None
    scores = np.full(17, 0.9)
    scores[3] = 0.099  # one ear missed: no gate by default, the pose is classified
    assert stock.classify(synthetic_pose(scores)).status in ("ok", "other")
    gated = stock_classifier(threshold=0.1).classify(synthetic_pose(scores))  # the TF sample's gate, opted in
    assert gated.label is None and gated.status == NO_CONFIDENT_POSE and gated.top == ()
    assert gated.to_dict() == {"label": None, "score": 0.0, "scores": {}, "status": NO_CONFIDENT_POSE}
    scores[3] = 0.1  # at the threshold counts, as the sample's `< 0.1` test
    assert stock_classifier(threshold=0.1).classify(synthetic_pose(scores)).status != NO_CONFIDENT_POSE
    torso_missing = np.full(17, 0.9)
    torso_missing[[5, 6, 11, 12]] = 0.05  # no shoulder, no hip seen: not a body to classify
    r = stock.classify(synthetic_pose(torso_missing))
    assert r.label is None and r.status == NO_CONFIDENT_POSE
    few = np.full(17, 0.05)
    few[[5, 11, 13, 15, 0]] = 0.9  # five joints seen: too few
    assert stock.classify(synthetic_pose(few)).status == NO_CONFIDENT_POSE


def test_degenerate_pose_is_not_a_label(stock):
    """Recognised from the keypoints before the model runs: whatever a kernel makes of 0/0
    (NaN with one build, "chair 0.48" with XNNPACK, "cobra 0.72" with the reference kernels)."""
    from edgeapp.pose import Pose

    runs = []
    stock.model.invoke, original = (lambda: runs.append(1) or original()), stock.model.invoke
    try:
        flat = Pose(xy=np.full((17, 2), 0.5), scores=np.full(17, 0.9), frame_size=(100, 100))
        r = stock.classify(flat)  # every point on one pixel
        assert r.label is None and r.status == DEGENERATE_POSE and r.top == ()
        xy = np.full((17, 2), 0.5)
        xy[:, 1] = np.linspace(0.2, 0.8, 17)
        xy[[5, 6, 11, 12]] = 0.5  # a body 60 px tall whose shoulders and hips coincide: a zero torso
        assert stock.classify(Pose(xy, np.full(17, 0.9), (100, 100))).status == DEGENERATE_POSE
        assert runs == []  # the model never ran
        assert stock.classify(synthetic_pose()).status in ("ok", "other") and runs == [1]
    finally:
        stock.model.invoke = original


def test_top_k(stock):
    pose = still_pose(IMAGES / "tfex_pose_image3_tree.jpeg")
    r = stock_classifier(top_k=10).classify(pose)
    assert len(r.top) == 5 and abs(sum(p for _, p in r.top) - 1.0) < 1e-4
    assert [p for _, p in r.top] == sorted((p for _, p in r.top), reverse=True)
