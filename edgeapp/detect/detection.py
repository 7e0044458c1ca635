"""A box and a detection: the values the detector, the tracker, the pose stage and the preview share.

Boxes are ``(xmin, ymin, xmax, ymax)`` normalised to the full frame (0..1), the
order pycoral's ``BBox`` uses; the models themselves emit ``(ymin, xmin, ymax,
xmax)``, which is converted once, in the detector. Plain floats: for the handful of
boxes a frame holds, numpy's per-call cost dwarfs the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence


@dataclass(frozen=True, slots=True)
class BBox:
    """An axis-aligned box, as pycoral's ``BBox``; unpacks as ``x0, y0, x1, y1``."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    @classmethod
    def of(cls, box: BBox | Sequence[float]) -> BBox:
        return box if isinstance(box, BBox) else cls(*(float(v) for v in box))

    @classmethod
    def from_center(cls, cx: float, cy: float, w: float, h: float) -> BBox:
        return cls(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)

    def __iter__(self) -> Iterator[float]:
        return iter((self.xmin, self.ymin, self.xmax, self.ymax))

    @property
    def width(self) -> float:
        return self.xmax - self.xmin

    @property
    def height(self) -> float:
        return self.ymax - self.ymin

    @property
    def center(self) -> tuple[float, float]:
        return (self.xmin + self.xmax) / 2.0, (self.ymin + self.ymax) / 2.0

    @property
    def area(self) -> float:
        """Zero for an empty or inverted box."""
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def valid(self) -> bool:
        return self.xmax > self.xmin and self.ymax > self.ymin

    def intersect(self, other: BBox) -> BBox:
        return BBox(max(self.xmin, other.xmin), max(self.ymin, other.ymin),
                    min(self.xmax, other.xmax), min(self.ymax, other.ymax))

    def iou(self, other: BBox) -> float:
        return iou(self, other)

    def scale(self, sx: float, sy: float) -> BBox:
        """Coordinates multiplied (e.g. normalised -> pixels with the frame's width and height)."""
        return BBox(self.xmin * sx, self.ymin * sy, self.xmax * sx, self.ymax * sy)

    def translate(self, dx: float, dy: float) -> BBox:
        return BBox(self.xmin + dx, self.ymin + dy, self.xmax + dx, self.ymax + dy)

    def map(self, f) -> BBox:
        """Each coordinate through ``f`` (e.g. ``round``)."""
        return BBox(f(self.xmin), f(self.ymin), f(self.xmax), f(self.ymax))

    def clip(self) -> BBox:
        """Clamped to the frame (0..1)."""
        return self.map(lambda v: min(max(v, 0.0), 1.0))


@dataclass(frozen=True, slots=True)
class Detection:
    """One object in one frame; ``id`` is the track it continues, once a tracker has seen it."""

    label: str
    label_id: int
    score: float
    box: BBox  # normalised to the frame
    id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.box, BBox):
            object.__setattr__(self, "box", BBox.of(self.box))

    @property
    def center(self) -> tuple[float, float]:
        return self.box.center


def iou(a, b) -> float:
    """Intersection over union of two xyxy boxes (``BBox`` or 4-sequences)."""
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = max(0.0, ax1 - ax0) * max(0.0, ay1 - ay0) + max(0.0, bx1 - bx0) * max(0.0, by1 - by0) - inter
    return inter / union if union > 0.0 else 0.0
