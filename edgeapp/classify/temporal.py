"""Steady answers on video: class probabilities smoothed over frame time.

For a video or camera source, before the hold timer's hysteresis, the classifier's
probabilities go through a first-order low-pass with time constant ``probability_tau_s``:
``p += (1 - exp(-dt / tau)) * (p_new - p)``. The keypoints it classified were already
smoothed by the pose stage (One Euro, ``[pose.smoothing]``, :mod:`edgeapp.pose.smoothing`).

``probability_tau_s`` defaults to half the hold timer's ``confirm_s`` (0.5 s): a real
change of pose moves the smoothed winner past an even split in ``tau * ln 2`` ~ 0.17 s, well
inside the confirmation time, while a single-frame flicker is divided by about 3 at
10 fps. Still images are never smoothed (they are unrelated to each other).
A refused frame (no pose, no body) or a gap of more than ``max_gap_s`` resets the average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from edgeapp.pose.smoothing import MAX_GAP_S

PROBABILITY_TAU_S = 0.25


@dataclass(frozen=True)
class SmoothingConfig:
    """The ``[classify.smoothing]`` table."""

    # keypoint smoothing is the pose stage's (shared with repetition counting): settings.read names the new key
    MOVED_KEYS: ClassVar[dict[str, str]] = {"keypoint_min_cutoff_hz": "pose.smoothing.min_cutoff_hz",
                                            "keypoint_beta": "pose.smoothing.beta"}

    enabled: bool = True  # video and camera: class probabilities averaged over frame time
    probability_tau_s: float = PROBABILITY_TAU_S  # time constant of the probability average
    max_gap_s: float = MAX_GAP_S  # a longer gap between frames starts the average afresh

    def check(self, problems) -> None:
        problems.require(0.0 < self.probability_tau_s <= 60.0, "probability_tau_s",
                         f"must be a number of seconds above 0 and at most 60, got {self.probability_tau_s}")
        problems.require(0.0 < self.max_gap_s <= 60.0, "max_gap_s",
                         f"must be a number of seconds above 0 and at most 60, got {self.max_gap_s}")


class ProbabilitySmoother:
    """A time-based exponential average of probability vectors; resets on a gap.

    Worked in Python floats (a handful of classes: cheaper than numpy calls, and the same IEEE
    double arithmetic an array of float64 would do)."""

    def __init__(self, tau_s: float = PROBABILITY_TAU_S, max_gap_s: float = MAX_GAP_S):
        self.tau_s = tau_s
        self.max_gap_s = max_gap_s
        self._p: list[float] | None = None
        self._time: float | None = None

    def reset(self) -> None:
        self._p = None
        self._time = None

    def __call__(self, probs: np.ndarray | Sequence[float], time_s: float) -> list[float]:
        """The average after this frame (the smoother's own list: read it, never write it)."""
        new = probs.tolist() if isinstance(probs, np.ndarray) else list(map(float, probs))
        last, old = self._time, self._p
        self._time = time_s
        if last is None or not 0.0 <= time_s - last <= self.max_gap_s or old is None or len(old) != len(new):
            self._p = new
        else:
            a = 1.0 - math.exp(-(time_s - last) / self.tau_s)
            self._p = [q + a * (n - q) for q, n in zip(old, new)]
        return self._p
