"""A detection, and box geometry as pure functions over numpy arrays.

Boxes are ``(xmin, ymin, xmax, ymax)`` normalised to the full frame (0..1),
the order pycoral's ``BBox`` uses; the models themselves emit
``(ymin, xmin, ymax, xmax)``, which is converted once, in the detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    label_id: int
    score: float
    box: Box  # (xmin, ymin, xmax, ymax), normalised to the frame

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2.0, (y0 + y1) / 2.0

    @property
    def area(self) -> float:
        return box_area(np.asarray(self.box, dtype=np.float64)).item()

    def to_dict(self, digits: int = 4) -> dict:
        return {
            "label": self.label,
            "label_id": self.label_id,
            "score": round(self.score, digits),
            "box": [round(float(v), digits) for v in self.box],
        }


def boxes_of(detections) -> np.ndarray:
    """``[N, 4]`` float64 array of the detections' boxes (``[0, 4]`` when there are none)."""
    if not detections:
        return np.zeros((0, 4), dtype=np.float64)
    return np.array([d.box for d in detections], dtype=np.float64)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Area of ``[..., 4]`` xyxy boxes; inverted boxes count as empty, not negative."""
    w = np.clip(boxes[..., 2] - boxes[..., 0], 0.0, None)
    h = np.clip(boxes[..., 3] - boxes[..., 1], 0.0, None)
    return w * h


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[N, M]`` intersection over union of every box of ``a`` (``[N, 4]``) with every box of ``b`` (``[M, 4]``)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0.0, None) * np.clip(y1 - y0, 0.0, None)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    # Two empty boxes have no overlap worth reporting; avoid 0/0.
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0.0)


def iou(a, b) -> float:
    """Intersection over union of two xyxy boxes (plain floats: numpy's per-call cost dwarfs 4 numbers)."""
    ax0, ay0, ax1, ay1 = (float(v) for v in a)
    bx0, by0, bx1, by1 = (float(v) for v in b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = max(0.0, ax1 - ax0) * max(0.0, ay1 - ay0) + max(0.0, bx1 - bx0) * max(0.0, by1 - by0) - inter
    return inter / union if union > 0.0 else 0.0


def box_centers(boxes: np.ndarray) -> np.ndarray:
    """``[N, 2]`` centres ``(x, y)`` of ``[N, 4]`` xyxy boxes."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(((boxes[:, 0] + boxes[:, 2]) / 2.0, (boxes[:, 1] + boxes[:, 3]) / 2.0), axis=1)
