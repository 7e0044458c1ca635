"""Box geometry and the mapping back to the frame, model-free and exact."""

from __future__ import annotations

import numpy as np
import pytest

from dataclasses import replace

from edgeapp.detect.detection import BBox, Detection, iou
from edgeapp.events.detection import detection_json
from edgeapp.detect.detector import boxes_to_frame
from edgeapp.window import InputWindow, sample


def test_iou_basics():
    assert iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0
    assert iou((0, 0, 0.5, 1), (0.5, 0, 1, 1)) == 0.0  # touching is not overlapping
    assert iou((0, 0, 1, 1), (0.5, 0, 1, 1)) == pytest.approx(0.5)
    assert iou((0, 0, 0.2, 0.2), (0.1, 0.1, 0.3, 0.3)) == pytest.approx(0.01 / 0.07)
    assert iou((0.5, 0.5, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)) == 0.0  # empty boxes: no 0/0
    assert iou((0.6, 0.6, 0.4, 0.4), (0, 0, 1, 1)) == 0.0  # inverted box counts as empty


def test_detection_json_and_centre():
    d = Detection("person", 0, 0.8234567, (0.1, 0.2, 0.3, 0.6))
    assert d.center == pytest.approx((0.2, 0.4))
    assert detection_json(d) == {"id": None, "label": "person", "label_id": 0, "score": 0.8235, "box": [0.1, 0.2, 0.3, 0.6]}
    assert detection_json(replace(d, id=4))["id"] == 4


def test_bbox_geometry():
    b = BBox(0.1, 0.2, 0.5, 0.6)
    assert tuple(b) == (0.1, 0.2, 0.5, 0.6) and BBox.of([0.1, 0.2, 0.5, 0.6]) == b
    assert b.width == pytest.approx(0.4) and b.height == pytest.approx(0.4) and b.area == pytest.approx(0.16)
    assert b.center == pytest.approx((0.3, 0.4))
    assert tuple(b.scale(100, 10)) == pytest.approx((10, 2, 50, 6))
    assert tuple(b.translate(0.1, -0.1)) == pytest.approx((0.2, 0.1, 0.6, 0.5))
    assert tuple(BBox(-0.1, 0.5, 1.2, 0.7).clip()) == (0.0, 0.5, 1.0, 0.7)
    assert tuple(BBox(1.4, 2.6, 3.5, 4.4).map(round)) == (1, 3, 4, 4)
    assert b.iou(b) == 1.0 and b.iou(b.translate(0.4, 0.0)) == 0.0
    assert tuple(BBox.from_center(0.3, 0.4, 0.4, 0.4)) == pytest.approx(tuple(b))
    assert BBox(0.5, 0.5, 0.4, 0.9).area == 0.0 and not BBox(0.5, 0.5, 0.4, 0.9).valid


@pytest.mark.parametrize("frame_wh", [(640, 480), (480, 640), (1280, 360), (300, 300)])
@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
def test_a_rectangle_seen_in_the_input_maps_back_onto_itself(frame_wh, mode):
    """Draw a box on a black frame, sample the input as the detector does, find the box in the input,
    and map it back: it must land on the drawn box within a pixel of the input's resolution."""
    w, h = frame_wh
    frame = np.zeros((h, w, 3), dtype=np.uint8)
    x0, y0, x1, y1 = int(0.3 * w), int(0.2 * h), int(0.7 * w), int(0.9 * h)
    frame[y0:y1, x0:x1] = 255
    win = InputWindow.stretch(w, h) if mode == "stretch" else InputWindow.letterbox(w, h, 300, 300)
    inp = sample(frame, win, 300, 300)
    ys, xs = np.nonzero(inp[..., 0] > 127)
    found = np.array([[ys.min(), xs.min(), ys.max() + 1, xs.max() + 1]], dtype=np.float64) / 300.0
    box = boxes_to_frame(found, win, w, h)[0]
    tol_x, tol_y = win.width / 300 / w * 1.5, win.height / 300 / h * 1.5  # 1.5 input pixels
    np.testing.assert_allclose(box[[0, 2]], [x0 / w, x1 / w], atol=tol_x)
    np.testing.assert_allclose(box[[1, 3]], [y0 / h, y1 / h], atol=tol_y)


def test_letterbox_padding_is_clipped_away():
    # A 2:1 frame letterboxed into a square input fills its top half; a box reaching into the padding
    # is clipped to the frame.
    win = InputWindow.letterbox(600, 300, 300, 300)
    box = boxes_to_frame(np.array([[0.25, 0.25, 0.9, 0.75]]), win, 600, 300)[0]
    np.testing.assert_allclose(box, [0.25, 0.5, 0.75, 1.0])
