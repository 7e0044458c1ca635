"""A frame and the interface every source implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol

import numpy as np


@dataclass(frozen=True, eq=False)
class Frame:
    """One BGR frame. ``time`` is frame time in seconds: media time for files, monotonic for live cameras."""

    image: np.ndarray
    index: int
    time: float
    source: str
    # Work done on the capture thread ahead of the frame loop (e.g. the detector's input), by name.
    prepared: dict = field(default_factory=dict, repr=False)

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
