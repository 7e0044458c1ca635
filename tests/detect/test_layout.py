"""The three output layouts pycoral handles, resolved by name and shape.

Only TF1-layout models are available here (no TensorFlow to export others),
so the other layouts are exercised on the pure functions the detector uses,
with the real SSD's outputs on cat.bmp rearranged the way each exporter
arranges them; the decoded detections must come out the same.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from support.shared import IMAGES
from edgeapp.detect.detector import OutputLayout, resolve_layout, select, split_outputs
from edgeapp.errors import ModelError
from edgeapp.runtime.model import write_image
from edgeapp.window import InputWindow, sample

N = 10


@pytest.fixture(scope="module")
def cat_outputs(ssd_model):
    """(boxes, classes, scores, count) arrays of the real SSD on cat.bmp, as the interpreter returns them."""
    im = cv2.imread(str(IMAGES / "cat.bmp"))
    write_image(ssd_model, sample(im, InputWindow.stretch(im.shape[1], im.shape[0]), 300, 300))
    ssd_model.invoke()
    return tuple(ssd_model.output(i).copy() for i in range(4))


def decode(outputs, layout):
    boxes, classes, scores, count = split_outputs(outputs, layout)
    idx = select(classes, scores, count, 0.3, np.ones(90, dtype=bool), True, 10)
    return [(int(classes[i]), round(float(scores[i]), 5), tuple(np.round(boxes[i], 5))) for i in idx]


def test_tf1_by_postprocess_names_in_any_order(cat_outputs):
    names = ["TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:1",
             "TFLite_Detection_PostProcess:2", "TFLite_Detection_PostProcess:3"]
    shapes = [a.shape for a in cat_outputs]
    layout = resolve_layout(names, shapes)
    assert layout == OutputLayout("tf1", boxes=0, classes=1, scores=2, count=3)
    expected = decode(cat_outputs, layout)
    assert expected[0][0] == 16 and expected[0][1] > 0.7  # the cat
    # Some converters list the same four outputs in another order; the names still say which is which.
    perm = [3, 1, 0, 2]
    shuffled = resolve_layout([names[i] for i in perm], [shapes[i] for i in perm])
    assert decode([cat_outputs[i] for i in perm], shuffled) == expected


def test_tf1_by_position_when_unnamed(cat_outputs):
    layout = resolve_layout(["a", "b", "c", "d"], [a.shape for a in cat_outputs])
    assert layout.kind == "tf1" and decode(cat_outputs, layout)[0][0] == 16


def test_tf2_order(cat_outputs):
    boxes, classes, scores, count = cat_outputs
    tf2 = [scores, boxes, count, classes]  # pycoral: TF2 exports put scores, boxes, count, classes
    names = ["StatefulPartitionedCall:1", "StatefulPartitionedCall:3", "StatefulPartitionedCall:0",
             "StatefulPartitionedCall:2"]
    layout = resolve_layout(names, [a.shape for a in tf2])
    assert layout == OutputLayout("tf2", boxes=1, classes=3, scores=0, count=2)
    assert decode(tf2, layout) == decode(cat_outputs, resolve_layout(["a"] * 4, [a.shape for a in cat_outputs]))


def test_signature_named_outputs(cat_outputs):
    boxes, classes, scores, count = cat_outputs
    # EfficientDet-Lite / Model Maker: a serving_default signature names output_0..3 = count, scores,
    # classes, boxes, and the tensors themselves sit in yet another order.
    arrays = [classes, count, boxes, scores]
    signature = {"output_0": 1, "output_1": 3, "output_2": 0, "output_3": 2}
    layout = resolve_layout(["x:0", "x:1", "x:2", "x:3"], [a.shape for a in arrays], signature)
    assert layout == OutputLayout("signature", boxes=2, classes=0, scores=3, count=1)
    assert decode(arrays, layout) == decode(cat_outputs, OutputLayout("tf1", 0, 1, 2, 3))
    # TF2 Object Detection API signatures keep descriptive names.
    named = {"detection_boxes": 2, "detection_classes": 0, "detection_scores": 3, "num_detections": 1}
    assert resolve_layout(["x"] * 4, [a.shape for a in arrays], named) == layout


def test_efficientdet_sized_outputs():
    """EfficientDet-Lite emits 25 detections ([1,25,4] boxes) in the TF1 layout of the TF Lite samples."""
    shapes = [(1, 25, 4), (1, 25), (1, 25), (1,)]
    layout = resolve_layout(["TFLite_Detection_PostProcess" + s for s in ("", ":1", ":2", ":3")], shapes)
    assert layout.kind == "tf1"
    rng = np.random.default_rng(0)
    scores = np.sort(rng.random(25).astype(np.float32))[::-1].reshape(1, 25)
    classes = rng.integers(0, 90, 25).astype(np.float32).reshape(1, 25)
    boxes = rng.random((1, 25, 4)).astype(np.float32)
    outs = [boxes, classes, scores, np.array([25.0], dtype=np.float32)]
    b, c, s, n = split_outputs(outs, layout)
    assert n == 25 and b.shape == (25, 4)
    idx = select(c, s, n, 0.5, np.ones(90, dtype=bool), True, 100)
    assert (s[idx] >= 0.5).all() and len(idx) == int((s >= 0.5).sum())


def test_select_honours_count_mask_and_unlisted_ids():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.95], dtype=np.float32)
    classes = np.array([0, 5, 120, -1, 0], dtype=np.float32)
    mask = np.zeros(90, dtype=bool)
    mask[[0, 120 % 90]] = True
    # count=4: the 5th entry is padding the op did not fill, whatever its score says
    assert select(classes, scores, 4, 0.5, mask, keep_unlisted=True, max_results=10) == [0, 2]
    assert select(classes, scores, 4, 0.5, mask, keep_unlisted=False, max_results=10) == [0]
    assert select(classes, scores, 99, 0.0, np.ones(90, bool), True, 2) == [4, 0]


@pytest.mark.parametrize("names, shapes, message", [
    (["a", "b"], [(1, 10, 4), (1, 10)], "needs the 4 outputs"),
    (["a", "b", "c", "d"], [(1, 10, 3), (1, 10), (1, 10), (1,)], "do not fit the tf1"),
    (["a", "b", "c", "d"], [(1, 10), (1, 10, 4), (1, 10), (1, 12)], "do not fit the tf2"),
])
def test_wrong_shapes_are_named(names, shapes, message):
    with pytest.raises(ModelError, match=message):
        resolve_layout(names, shapes)
