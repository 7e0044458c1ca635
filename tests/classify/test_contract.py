"""The input contract: sidecar parsing, label sources, model checks, the feature vector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from support.shared import CLASSIFIER, CLASSIFIER_LABELS, MOVENET
from edgeapp.classify.classifier import PoseClassifier, resolve_contract
from edgeapp.classify.contract import (STOCK_CONTRACT, ClassifierContract, encode_keypoints, load_contract,
                                       pose_features, read_labels, sidecar_path)
from edgeapp.errors import ModelError
from edgeapp.pose import Pose

from .helpers import copy_stock_model, cpu, synthetic_pose

LABELS = ["chair", "cobra", "dog", "tree", "warrior"]


def sidecar(tmp_path, **d):
    path = tmp_path / "model.contract.json"
    path.write_text(json.dumps(d))
    return path


def test_sidecar_name():
    assert sidecar_path(CLASSIFIER).name == "yoga_classifier.contract.json"


def test_no_sidecar_means_the_stock_contract(tmp_path):
    model = copy_stock_model(tmp_path)
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n\n")
    contract, where = resolve_contract(model)
    assert (contract.order, contract.units, contract.labels) == ("yx", "pixels", tuple(LABELS))
    assert where.endswith("labels.txt")
    assert STOCK_CONTRACT.order == "yx" and STOCK_CONTRACT.units == "pixels"


def test_sidecar_with_labels_needs_no_labels_file(tmp_path):
    model = copy_stock_model(tmp_path)
    sidecar(tmp_path, schema=1, order="yx", units="pixels", labels=LABELS)
    c = PoseClassifier.open(model, request=cpu())
    assert c.labels == tuple(LABELS)


@pytest.mark.parametrize("content, words", [
    ({"schema": 1, "order": "xyz", "units": "pixels"}, ["order", "'xyz'"]),
    ({"schema": 1, "order": "YX", "units": "pixels"}, ["order", "'YX'"]),
    ({"schema": 1, "order": "yx", "units": "metres"}, ["units", "'metres'"]),
    ({"schema": 1, "units": "pixels"}, ["'order' is missing"]),
    ({"schema": 2, "order": "yx", "units": "pixels"}, ["schema 2"]),
    ({"schema": 1, "order": "yx", "units": "pixels", "ordre": "xy"}, ["unknown keys", "ordre"]),
    ({"schema": 1, "order": "yx", "units": "pixels", "labels": ["a", "a", "b", "c", "d"]}, ["duplicate", "'a'"]),
    ({"schema": 1, "order": "yx", "units": "pixels", "labels": "chair"}, ["list of strings"]),
    (["yx"], ["JSON object"]),
])
def test_bad_sidecar_is_an_error_naming_file_and_value(tmp_path, content, words):
    model = copy_stock_model(tmp_path)
    path = tmp_path / "model.contract.json"
    path.write_text(json.dumps(content))
    (tmp_path / "labels.txt").write_text("\n".join(LABELS))
    with pytest.raises(ModelError) as e:
        PoseClassifier.open(model, request=cpu())
    assert str(path) in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_sidecar_that_is_not_json(tmp_path):
    path = tmp_path / "model.contract.json"
    path.write_text("order = 'yx'")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_contract(path)


def test_labels_file_with_the_wrong_count(tmp_path):
    bad = tmp_path / "labels.txt"
    bad.write_text("chair\ncobra\ndog\ntree\n")
    with pytest.raises(ModelError) as e:
        PoseClassifier.open(CLASSIFIER, bad, cpu())
    assert str(bad) in str(e.value) and "4 labels" in str(e.value) and "5 outputs" in str(e.value)


def test_labels_that_disagree_are_an_error(tmp_path):
    model = copy_stock_model(tmp_path)
    sidecar(tmp_path, schema=1, order="yx", units="pixels", labels=LABELS)
    other = tmp_path / "other.txt"
    other.write_text("\n".join(reversed(LABELS)))
    with pytest.raises(ModelError, match="labels disagree"):
        PoseClassifier.open(model, other, cpu())


def test_no_labels_anywhere(tmp_path):
    model = copy_stock_model(tmp_path)
    with pytest.raises(ModelError, match="no labels for"):
        PoseClassifier.open(model, request=cpu())


def test_labels_file_with_a_blank_line_inside(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("chair\n\ndog\n")
    with pytest.raises(ModelError, match="empty label at line/position 2"):
        read_labels(path)


def test_a_pose_model_is_not_a_classifier(tmp_path):
    with pytest.raises(ModelError) as e:
        PoseClassifier.open(MOVENET, CLASSIFIER_LABELS, cpu())
    assert "does not look like a pose classifier" in str(e.value) and MOVENET.name in str(e.value)


def test_not_a_model_file(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"hello world, not a flatbuffer")
    (tmp_path / "labels.txt").write_text("a\nb\n")
    with pytest.raises(ModelError, match="not a TFLite model"):
        PoseClassifier.open(bad, request=cpu())


def test_encode_keypoints_orders():
    xy = np.arange(34, dtype=np.float64).reshape(17, 2)  # nose (0, 1): x=0, y=1
    s = np.linspace(0, 1, 17)
    yx = encode_keypoints(xy, s, "yx")
    assert yx.dtype == np.float32 and yx.shape == (51,)
    assert list(yx[:6]) == [1, 0, s[0], 3, 2, np.float32(s[1])]
    assert list(encode_keypoints(xy, s, "xy")[:3]) == [0, 1, 0]


def test_pose_features_are_truncated_pixels_like_the_sample():
    pose = Pose(xy=np.full((17, 2), [0.5, 0.25]) + 0.0009, scores=np.full(17, 0.7), frame_size=(641, 481))
    out = np.empty(51, dtype=np.float32)
    f = pose_features(pose, ClassifierContract("yx", "pixels"), out)
    assert f is out  # the caller's buffer, reused frame after frame
    # y = int(0.2509 * 481) = 120, x = int(0.5009 * 641) = 321: the Person's int() pixels
    assert list(f[:3]) == [120, 321, np.float32(0.7)]
    assert (f[0::3] == pose.pixels[:, 1]).all() and (f[1::3] == pose.pixels[:, 0]).all()
    n = pose_features(pose, ClassifierContract("xy", "normalized"))
    assert np.allclose(n[:2], [0.5009, 0.2509])


def test_contract_rejects_bad_values_in_code():
    with pytest.raises(ModelError, match="order"):
        ClassifierContract(order="zx")
    with pytest.raises(ModelError, match="min_probability"):
        ClassifierContract(min_probability=1.5)


def test_open_set_keys_round_trip_and_are_checked(tmp_path):
    side = tmp_path / "m.contract.json"
    c = ClassifierContract("yx", "pixels", ("a", "b", "other"), other_label="other", min_probability=0.7,
                           calibration={"method": "test"}, other_threshold=0.4)
    side.write_text(json.dumps(c.to_dict()))
    assert load_contract(side) == c
    side.write_text(json.dumps({**c.to_dict(), "other_label": "none"}))
    with pytest.raises(ModelError, match="other_label 'none' is not one of the labels"):
        load_contract(side)
    side.write_text(json.dumps({**c.to_dict(), "min_probability": "high"}))
    with pytest.raises(ModelError, match="min_probability must be a number"):
        load_contract(side)


def test_the_stock_contract_carries_its_calibration():
    assert 0.5 < STOCK_CONTRACT.min_probability < 0.6 and STOCK_CONTRACT.other_label is None
    assert "quantile" in STOCK_CONTRACT.calibration["method"]


def test_scale_does_not_matter_to_the_stock_model_but_order_does():
    """The stock graph normalises by the torso, so pixels vs x2 pixels give the same answer."""
    c = PoseClassifier.open(CLASSIFIER, CLASSIFIER_LABELS, cpu())
    pose = synthetic_pose()
    f = pose_features(pose, c.contract).copy()
    a = c.probabilities(f).copy()
    b = c.probabilities(f * np.tile([2, 2, 1], 17).astype(np.float32)).copy()
    assert np.allclose(a, b, atol=1e-4)
