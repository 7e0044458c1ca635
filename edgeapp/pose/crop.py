"""MoveNet smart cropping: the crop for the next frame follows the body found in this one.

This is the canonical algorithm of the TF Hub MoveNet tutorial (peers.md §2.3):
per-joint body ranges, not the TF Raspberry Pi sample's regression, which reads
the right hip for every joint. All functions are pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeapp.pose.keypoint import BodyPart
from edgeapp.window import InputWindow

MIN_CROP_KEYPOINT_SCORE = 0.2
TORSO_EXPANSION_RATIO = 1.9
BODY_EXPANSION_RATIO = 1.2

_TORSO = (BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER, BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP)


@dataclass(frozen=True)
class CropRegion:
    """A crop normalised to the frame; it may reach past [0, 1], where the model sees black."""

    y_min: float
    x_min: float
    y_max: float
    x_max: float

    @property
    def height(self) -> float:
        return self.y_max - self.y_min

    @property
    def width(self) -> float:
        return self.x_max - self.x_min

    def window(self, frame_w: int, frame_h: int) -> InputWindow:
        """The crop in frame pixels, cut and padded at whole pixels as the TF sample's int() does."""
        return InputWindow(
            _snap(self.x_min, frame_w), _snap(self.y_min, frame_h), _snap(self.x_max, frame_w), _snap(self.y_max, frame_h)
        )


def _snap(v: float, size: int) -> float:
    # The sample slices inside the frame and pads outside it, truncating each part towards zero.
    if v < 0:
        return -float(int(-v * size))
    if v >= 1:
        return size + float(int((v - 1) * size))
    return float(int(v * size))


def init_crop_region(frame_h: int, frame_w: int) -> CropRegion:
    """The whole frame padded to a centred square."""
    if frame_w > frame_h:
        box_h = frame_w / frame_h
        y_min = (frame_h / 2 - frame_w / 2) / frame_h
        return CropRegion(y_min, 0.0, y_min + box_h, 1.0)
    box_w = frame_h / frame_w
    x_min = (frame_w / 2 - frame_h / 2) / frame_w
    return CropRegion(0.0, x_min, 1.0, x_min + box_w)


def torso_visible(scores: np.ndarray) -> bool:
    return bool(
        (scores[BodyPart.LEFT_HIP] > MIN_CROP_KEYPOINT_SCORE or scores[BodyPart.RIGHT_HIP] > MIN_CROP_KEYPOINT_SCORE)
        and (
            scores[BodyPart.LEFT_SHOULDER] > MIN_CROP_KEYPOINT_SCORE
            or scores[BodyPart.RIGHT_SHOULDER] > MIN_CROP_KEYPOINT_SCORE
        )
    )


def determine_crop_region(xy: np.ndarray, scores: np.ndarray, frame_h: int, frame_w: int) -> CropRegion:
    """The square crop (in pixels) for the next frame, from keypoints ``xy`` normalised to this frame."""
    if not torso_visible(scores):
        return init_crop_region(frame_h, frame_w)
    # 17 points: plain floats are several times faster than numpy's per-call overhead here.
    px = [(x * frame_w, y * frame_h) for x, y in xy.tolist()]
    s = scores.tolist()
    cx = (px[BodyPart.LEFT_HIP][0] + px[BodyPart.RIGHT_HIP][0]) / 2
    cy = (px[BodyPart.LEFT_HIP][1] + px[BodyPart.RIGHT_HIP][1]) / 2
    torso = max(max(abs(cx - px[j][0]), abs(cy - px[j][1])) for j in _TORSO)
    body = max((max(abs(cx - x), abs(cy - y)) for (x, y), sc in zip(px, s) if sc >= MIN_CROP_KEYPOINT_SCORE),
               default=0.0)
    half = max(TORSO_EXPANSION_RATIO * torso, BODY_EXPANSION_RATIO * body)
    half = min(half, max(cx, frame_w - cx, cy, frame_h - cy))
    if half > max(frame_w, frame_h) / 2:
        return init_crop_region(frame_h, frame_w)
    x0, y0, length = cx - half, cy - half, 2 * half
    return CropRegion(y0 / frame_h, x0 / frame_w, (y0 + length) / frame_h, (x0 + length) / frame_w)
