"""A detection, and the box geometry the tracker needs, in plain floats.

Boxes are ``(xmin, ymin, xmax, ymax)`` normalised to the full frame (0..1),
the order pycoral's ``BBox`` uses; the models themselves emit
``(ymin, xmin, ymax, xmax)``, which is converted once, in the detector.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def to_dict(self, digits: int = 4) -> dict:
        return {
            "label": self.label,
            "label_id": self.label_id,
            "score": round(self.score, digits),
            "box": [round(float(v), digits) for v in self.box],
        }


def iou(a, b) -> float:
    """Intersection over union of two xyxy boxes (plain floats: numpy's per-call cost dwarfs 4 numbers)."""
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = max(0.0, ax1 - ax0) * max(0.0, ay1 - ay0) + max(0.0, bx1 - bx0) * max(0.0, by1 - by0) - inter
    return inter / union if union > 0.0 else 0.0
