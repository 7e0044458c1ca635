"""A camera on the simulated rig looking at a scene of real images, for the closed-loop tests.

The camera's view is a window onto a wide scene (real images laid out on a
larger canvas, with a person sprite that can move or vanish); the rig's pan and
tilt angles move the window, at ``px_per_deg`` scene pixels per degree (from
the field of view).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from edgeapp.window import InputWindow, sample


@dataclass
class Sprite:
    """An image placed in the scene, top-left at ``(x, y)`` scene pixels. ``anchor``: the target's centre in it."""

    image: np.ndarray
    x: float
    y: float
    visible: bool = True
    anchor: tuple[float, float] | None = None

    @property
    def center(self) -> tuple[float, float]:
        h, w = self.image.shape[:2]
        ax, ay = self.anchor if self.anchor is not None else (w / 2.0, h / 2.0)
        return self.x + ax, self.y + ay

    def move_center_to(self, x: float, y: float) -> None:
        cx, cy = self.center
        self.x += x - cx
        self.y += y - cy


def tile_scene(images: Sequence[np.ndarray], size: tuple[int, int], tile: tuple[int, int]) -> np.ndarray:
    """A ``size`` (w, h) canvas tiled with ``images`` (each resized to ``tile``), in turn."""
    w, h = size
    tw, th = tile
    canvas = np.zeros((h, w, 3), dtype=np.uint8)
    tiles = [cv2.resize(im, (tw, th), interpolation=cv2.INTER_AREA) for im in images]
    k = 0
    for y in range(0, h, th):
        for x in range(0, w, tw):
            t = tiles[k % len(tiles)]
            k += 1
            canvas[y:y + th, x:x + tw] = t[: h - y, : w - x]
    return canvas


def load_images(paths: Sequence[Path | str]) -> list[np.ndarray]:
    images = []
    for p in paths:
        im = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if im is None:
            raise FileNotFoundError(f"cannot read image {p}")
        images.append(im)
    return images


class VirtualCamera:
    """A camera on the simulated rig: a ``frame_size`` window onto ``scene``, centred at pan = tilt = 0."""

    def __init__(self, scene: np.ndarray, frame_size: tuple[int, int] = (480, 360),
                 fov_deg: tuple[float, float] = (62.2, 48.8)):
        self.scene = scene
        self.frame_w, self.frame_h = frame_size
        self.px_per_deg = (self.frame_w / fov_deg[0], self.frame_h / fov_deg[1])
        self.sprites: list[Sprite] = []

    @property
    def scene_center(self) -> tuple[float, float]:
        h, w = self.scene.shape[:2]
        return w / 2.0, h / 2.0

    def window(self, pan: float, tilt: float) -> InputWindow:
        cx, cy = self.scene_center
        x = cx + pan * self.px_per_deg[0] - self.frame_w / 2.0
        y = cy + tilt * self.px_per_deg[1] - self.frame_h / 2.0
        return InputWindow(x, y, x + self.frame_w, y + self.frame_h)

    def scene_point(self, pan: float, tilt: float, frame_xy: tuple[float, float] = (0.5, 0.5)) -> tuple[float, float]:
        """The scene pixel seen at normalised frame position ``frame_xy``."""
        win = self.window(pan, tilt)
        return win.x0 + frame_xy[0] * self.frame_w, win.y0 + frame_xy[1] * self.frame_h

    def locate(self, pan: float, tilt: float, scene_xy: tuple[float, float]) -> tuple[float, float]:
        """Where a scene pixel appears in the frame, normalised (outside 0..1 when out of view)."""
        win = self.window(pan, tilt)
        return (scene_xy[0] - win.x0) / self.frame_w, (scene_xy[1] - win.y0) / self.frame_h

    def render(self, pan: float, tilt: float) -> np.ndarray:
        """The BGR frame the camera sees with the rig at ``(pan, tilt)``."""
        win = self.window(pan, tilt)
        frame = sample(self.scene, win, self.frame_w, self.frame_h)  # black beyond the scene's edge
        ox, oy = round(win.x0), round(win.y0)
        for s in self.sprites:
            if not s.visible:
                continue
            sh, sw = s.image.shape[:2]
            x0, y0 = round(s.x) - ox, round(s.y) - oy
            fx0, fy0 = max(x0, 0), max(y0, 0)
            fx1, fy1 = min(x0 + sw, self.frame_w), min(y0 + sh, self.frame_h)
            if fx0 < fx1 and fy0 < fy1:
                frame[fy0:fy1, fx0:fx1] = s.image[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
        return frame
