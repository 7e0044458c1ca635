"""One Euro filtering of keypoints over time (Casiez, Roussel & Vogel, CHI 2012).

A low-pass filter whose cut-off rises with the speed of the signal: a still joint is
smoothed hard (jitter goes), a moving joint is followed closely (little lag).

The defaults are the TF.js MoveNet ``KEYPOINT_FILTER_CONFIG`` (pose-detection
``movenet/constants.ts``, the stored version quoted in peers.md §2.3). TF.js applies
them to keypoints **normalised to the frame** (0..1), which is what ``Pose.xy`` holds,
so the constants carry over unchanged: ``beta`` multiplies a speed in frame-widths per
second. The filter is **time-based**: each step's smoothing factor comes from the real
interval between frame timestamps, so the same constants give the same cut-off
frequencies (in Hz) at 10, 15 or 30 fps; TF.js's ``frequency = 30`` is only the rate it
assumes before the second frame, and it is not needed here because the first frame
passes through unfiltered. ``thresholdCutOff``/``thresholdBeta`` are TF.js's second
(score) filter pair; here they smooth the keypoint scores the same way.

A gap in time (no frame for ``max_gap_s``, a timestamp going backwards, or no pose)
resets the filter: smoothing across a gap would drag the old pose into the new one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgeapp.errors import ConfigError
from edgeapp.pose.keypoint import Pose

# TF.js MoveNet KEYPOINT_FILTER_CONFIG (stored version; other versions quote other values).
MIN_CUTOFF_HZ = 6.36
BETA = 636.61
DERIVATE_CUTOFF_HZ = 4.77
SCORE_MIN_CUTOFF_HZ = 0.5  # thresholdCutOff
SCORE_BETA = 5.0  # thresholdBeta
MAX_GAP_S = 0.5  # longer than any frame interval of a live source (2 fps), shorter than a pose change


@dataclass(frozen=True)
class OneEuroConfig:
    min_cutoff_hz: float = MIN_CUTOFF_HZ
    beta: float = BETA
    derivate_cutoff_hz: float = DERIVATE_CUTOFF_HZ
    score_min_cutoff_hz: float = SCORE_MIN_CUTOFF_HZ
    score_beta: float = SCORE_BETA
    max_gap_s: float = MAX_GAP_S

    def __post_init__(self):
        for name in ("min_cutoff_hz", "derivate_cutoff_hz", "score_min_cutoff_hz", "max_gap_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(name, f"must be > 0, got {getattr(self, name)!r}")
        for name in ("beta", "score_beta"):
            if not getattr(self, name) >= 0:
                raise ConfigError(name, f"must be >= 0, got {getattr(self, name)!r}")


def smoothing_factor(dt_s: float, cutoff_hz):
    """The exponential smoothing factor of a first-order low-pass at ``cutoff_hz`` (a float or an array)
    for a step of ``dt_s``."""
    r = (2.0 * math.pi * dt_s) * cutoff_hz
    return r / (r + 1.0)


class KeypointFilter:
    """One Euro over a ``[17, 2]`` keypoint array and its ``[17]`` scores. One per tracked person.

    The 34 coordinates and 17 scores are filtered as one vector of 51 values with per-value
    constants, so a frame costs a dozen small numpy operations."""

    def __init__(self, config: OneEuroConfig | None = None):
        self.config = c = config or OneEuroConfig()
        self._min_cutoff = np.r_[np.full(34, c.min_cutoff_hz), np.full(17, c.score_min_cutoff_hz)]
        self._beta = np.r_[np.full(34, c.beta), np.full(17, c.score_beta)]
        self._value: np.ndarray | None = None
        self._derivative: np.ndarray | None = None
        self._time: float | None = None

    def reset(self) -> None:
        self._value = self._derivative = None
        self._time = None

    def __call__(self, xy: np.ndarray, scores: np.ndarray, time_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The filtered (xy, scores) for a frame at ``time_s`` (seconds, the frame's own clock)."""
        x = np.concatenate((np.ravel(xy), np.ravel(scores))).astype(np.float64, copy=False)
        dt = None if self._time is None else time_s - self._time
        if dt == 0.0 and self._value is not None:  # the same frame twice: nothing new to filter
            return self._split(self._value)
        if dt is None or not 0.0 < dt <= self.config.max_gap_s or self._value is None or len(self._value) != len(x):
            self._value, self._derivative = x.copy(), np.zeros_like(x)
        else:
            v = self._value
            self._derivative += smoothing_factor(dt, self.config.derivate_cutoff_hz) * ((x - v) / dt - self._derivative)
            cutoff = self._min_cutoff + self._beta * np.abs(self._derivative)
            v += smoothing_factor(dt, cutoff) * (x - v)
        self._time = time_s
        return self._split(self._value)

    def _split(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return v[:34].reshape(17, 2).copy(), np.clip(v[34:], 0.0, 1.0)

    def pose(self, pose: Pose | None, time_s: float) -> Pose | None:
        """The filtered pose; ``None`` (nobody this frame) resets the filter and passes through."""
        if pose is None:
            self.reset()
            return None
        xy, scores = self(pose.xy, pose.scores, time_s)
        return Pose(xy.astype(pose.xy.dtype, copy=False), scores.astype(pose.scores.dtype, copy=False), pose.frame_size)
