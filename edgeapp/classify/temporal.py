"""Steady answers on video: keypoints and class probabilities smoothed over frame time.

For a video or camera source, before the hold timer's hysteresis:

1. the pose's keypoints go through the One Euro filter (:mod:`edgeapp.pose.smoothing`,
   TF.js MoveNet constants, time-based so it is the same at any frame rate);
2. the classifier's probabilities go through a first-order low-pass with time constant
   ``probability_tau_s``: ``p += (1 - exp(-dt / tau)) * (p_new - p)``.

``probability_tau_s`` defaults to half the hold timer's ``confirm_s`` (0.5 s): a real
change of pose moves the smoothed winner past an even split in ``tau * ln 2`` ~ 0.17 s, well
inside the confirmation time, while a single-frame flicker is divided by about 3 at
10 fps. Still images are never smoothed (they are unrelated to each other).
A refused frame (no pose, no body) or a gap of more than ``max_gap_s`` resets both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edgeapp.pose.smoothing import BETA, MAX_GAP_S, MIN_CUTOFF_HZ, OneEuroConfig

PROBABILITY_TAU_S = 0.25


@dataclass(frozen=True)
class SmoothingConfig:
    """The ``[classify.smoothing]`` table."""

    enabled: bool = True  # video and camera: One Euro on the keypoints, probabilities averaged over time
    probability_tau_s: float = PROBABILITY_TAU_S  # time constant of the probability average
    max_gap_s: float = MAX_GAP_S  # a longer gap between frames starts both afresh
    keypoint_min_cutoff_hz: float = MIN_CUTOFF_HZ  # One Euro, TF.js MoveNet constants (pose/smoothing.py)
    keypoint_beta: float = BETA  # One Euro speed coefficient, per frame-width per second

    def one_euro(self) -> OneEuroConfig:
        return OneEuroConfig(min_cutoff_hz=self.keypoint_min_cutoff_hz, beta=self.keypoint_beta,
                             max_gap_s=self.max_gap_s)

    def check(self, problems) -> None:
        problems.require(0.0 < self.probability_tau_s <= 60.0, "probability_tau_s",
                         f"must be a number of seconds above 0 and at most 60, got {self.probability_tau_s}")
        problems.require(0.0 < self.max_gap_s <= 60.0, "max_gap_s",
                         f"must be a number of seconds above 0 and at most 60, got {self.max_gap_s}")
        problems.require(self.keypoint_min_cutoff_hz > 0, "keypoint_min_cutoff_hz",
                         f"must be above 0 Hz, got {self.keypoint_min_cutoff_hz}")
        problems.require(self.keypoint_beta >= 0, "keypoint_beta", f"must be 0 or more, got {self.keypoint_beta}")


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
