"""The input window: the rectangle of a frame that is mapped onto a model's input.

Smart crops, letterboxing and stretching are all one operation: choose a
rectangle in frame pixels (it may reach past the frame, where the model sees
black), warp it to the input size in one pass, and map the model's normalised
coordinates back through the same rectangle. One ``cv2.warpAffine`` replaces the
slice, pad and resize of the TF samples, with no intermediate copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class InputWindow:
    """A rectangle in frame pixels: ``x0, y0`` top-left, ``x1, y1`` bottom-right (exclusive)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @classmethod
    def stretch(cls, frame_w: int, frame_h: int) -> InputWindow:
        """The whole frame, stretched to the input (libcoral's and Coral's reference tests)."""
        return cls(0.0, 0.0, float(frame_w), float(frame_h))

    @classmethod
    def letterbox(cls, frame_w: int, frame_h: int, in_w: int, in_h: int) -> InputWindow:
        """The whole frame at one scale, anchored top-left, padded right/bottom (pycoral's set_resized_input)."""
        scale = min(in_w / frame_w, in_h / frame_h)
        return cls(0.0, 0.0, in_w / scale, in_h / scale)


def affine(window: InputWindow, out_w: int, out_h: int) -> np.ndarray:
    """The 2x3 matrix taking frame pixels to input pixels, with pixel centres aligned as in cv2.resize."""
    sx = out_w / window.width
    sy = out_h / window.height
    return np.array(
        [[sx, 0.0, (0.5 - window.x0) * sx - 0.5], [0.0, sy, (0.5 - window.y0) * sy - 0.5]],
        dtype=np.float64,
    )


def sample(frame: np.ndarray, window: InputWindow, out_w: int, out_h: int, dst: np.ndarray | None = None) -> np.ndarray:
    """The window's pixels at the input size; black where it reaches past the frame. With ``dst``
    (``out_h x out_w x 3`` uint8, e.g. a model's input tensor), written there."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = window.x0, window.y0, window.x1, window.y1
    if 0 <= x0 and 0 <= y0 and x1 <= w and y1 <= h and x0 == int(x0) and y0 == int(y0) and x1 == int(x1) and y1 == int(y1):
        # Inside the frame on whole pixels (a smart crop around a body): resize samples the same
        # pixel centres as the warp, at half its cost, straight from a view of the frame.
        return cv2.resize(frame[int(y0):int(y1), int(x0):int(x1)], (out_w, out_h), dst=dst,
                          interpolation=cv2.INTER_LINEAR)
    return cv2.warpAffine(
        frame,
        affine(window, out_w, out_h),
        (out_w, out_h),
        dst=dst,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def to_frame(window: InputWindow, xy: np.ndarray) -> np.ndarray:
    """Map normalised input coordinates ``[..., (x, y)]`` to frame pixels."""
    return xy * (window.width, window.height) + (window.x0, window.y0)


def to_frame_normalised(windows: Sequence[InputWindow], xy: np.ndarray, frame_w: int, frame_h: int) -> np.ndarray:
    """Map normalised input coordinates ``[n, ..., (x, y)]``, ``xy[i]`` in ``windows[i]``, to coordinates
    normalised to the frame, in one multiply-add (float64) for all windows."""
    factors = np.array([((w.x1 - w.x0) / frame_w, (w.y1 - w.y0) / frame_h, w.x0 / frame_w, w.y0 / frame_h)
                        for w in windows]).reshape(len(windows), *(1,) * (xy.ndim - 2), 4)
    return xy * factors[..., :2] + factors[..., 2:]
