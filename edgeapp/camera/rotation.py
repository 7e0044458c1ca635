"""Turning every frame of a source upright, for a camera mounted sideways or upside down.

A Pi camera on a pan/tilt hat or behind a kiosk bezel is often mounted upside down (rpi-deep-pantilt's
``--rotation``); MoveNet and the classifier are trained on upright people, and a yoga model names an
upside-down person as a pose. The turn runs where the frames are read (the capture thread), before the
detector's input is prepared, so everything downstream sees the upright frame.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import cv2

from edgeapp.camera.frame import Frame

# degrees clockwise -> OpenCV's exact (lossless) turn
TURNS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class RotatedSource:
    """A source whose frames are turned ``degrees`` clockwise (90, 180 or 270); everything else is the source's."""

    def __init__(self, source, degrees: int):
        if degrees not in TURNS:
            raise ValueError(f"a frame turns by 90, 180 or 270 degrees, not {degrees!r}")
        self.source = source
        self.degrees = degrees
        self._turn = TURNS[degrees]

    def __getattr__(self, name):  # name, live, still, status, ...: the source's own
        return getattr(self.source, name)

    def frames(self) -> Iterator[Frame]:
        turn = self._turn
        for frame in self.source.frames():
            yield dataclasses.replace(frame, image=cv2.rotate(frame.image, turn))

    def close(self) -> None:
        self.source.close()
