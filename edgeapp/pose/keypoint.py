"""Keypoints and poses in COCO order, normalised to the full frame."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class BodyPart(IntEnum):
    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16


KEYPOINT_NAMES: tuple[str, ...] = tuple(p.name.lower() for p in BodyPart)
# The person score ignores keypoints at or below this, as the TF sample does.
PERSON_KEYPOINT_THRESHOLD = 0.1


@dataclass(frozen=True)
class Keypoint:
    name: str
    x: float  # normalised to the frame width, 0 at the left
    y: float  # normalised to the frame height, 0 at the top
    px: int
    py: int
    score: float


@dataclass(frozen=True, eq=False)
class Pose:
    """One person: ``xy`` is ``[17, 2]`` as (x, y) normalised to the frame, ``scores`` is ``[17]``."""

    xy: np.ndarray
    scores: np.ndarray
    frame_size: tuple[int, int]  # (width, height)

    @property
    def pixels(self) -> np.ndarray:
        """``[17, 2]`` int (x, y) pixels, truncated like the TF sample's ``int(x * W)``."""
        w, h = self.frame_size
        return (self.xy * (w, h)).astype(np.int64)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) over all 17 keypoints, normalised (scores ignored, as the sample)."""
        lo = self.xy.min(axis=0)
        hi = self.xy.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    @property
    def score(self) -> float:
        """Mean of the keypoint scores above 0.1; 0.0 when none is (the sample gives NaN)."""
        confident = self.scores[self.scores > PERSON_KEYPOINT_THRESHOLD]
        return float(confident.mean()) if confident.size else 0.0

    @property
    def min_score(self) -> float:
        return float(self.scores.min())

    def keypoints(self) -> list[Keypoint]:
        px = self.pixels
        return [
            Keypoint(name, float(self.xy[i, 0]), float(self.xy[i, 1]), int(px[i, 0]), int(px[i, 1]), float(self.scores[i]))
            for i, name in enumerate(KEYPOINT_NAMES)
        ]

    def clamped(self) -> Pose:
        """The same pose with every keypoint inside the frame: x, y in [0, 1), pixels in [0, W-1] x [0, H-1].
        MoveNet places a joint it guesses beyond a crop's edge outside the frame (``px`` 780 in a 768-px frame);
        consumers drawing or pointing at it expect coordinates that exist. The model's own ``xy`` stays unclamped."""
        w, h = self.frame_size
        upper = np.array([(w - 1) / w, (h - 1) / h]) if w and h else np.ones(2)
        return Pose(np.clip(self.xy, 0.0, upper), self.scores, self.frame_size)
