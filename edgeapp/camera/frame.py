"""A frame and the interface every source implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np


@dataclass(frozen=True, eq=False)
class Frame:
    """One BGR frame. ``time`` is frame time in seconds: media time for files, monotonic for live cameras."""

    image: np.ndarray
    index: int
    time: float
    source: str

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h


class FrameSource(Protocol):
    name: str
    live: bool  # live sources may drop frames (latest wins); files never do
    still: bool  # unrelated still images: no crop or track carries from one frame to the next

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
