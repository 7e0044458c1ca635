"""A clip made from the shared images: a bystander walks behind the person in front of the camera."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from support.shared import IMAGES

W, H = 960, 640


def paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    """``image`` onto ``canvas`` with its top-left at (x, y), clipped to the canvas."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = image[y0 - y:y1 - y, x0 - x:x1 - x]


def bystander_clip(out: Path, frames: int = 36, fps: float = 10.0) -> Path:
    """The user (tfex_pose_image2, a man standing) stays in the middle; the bystander
    (tfex_pose_image1, a woman, nine tenths his size: a step further back) walks from the left edge
    to the right one behind him. Returns the clip (MJPG .avi: OpenCV can write it anywhere)."""
    user = cv2.imread(str(IMAGES / "tfex_pose_image2.jpeg"))
    woman = cv2.imread(str(IMAGES / "tfex_pose_image1.png"))
    woman = cv2.resize(woman, None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    try:
        for k in range(frames):
            canvas = np.full((H, W, 3), 128, np.uint8)
            x = int(-woman.shape[1] * 0.5 + (W + woman.shape[1] * 0.0) * k / (frames - 1))
            paste(canvas, woman, x, H - woman.shape[0])
            paste(canvas, user, (W - user.shape[1]) // 2, 0)
            writer.write(canvas)
    finally:
        writer.release()
    return out
