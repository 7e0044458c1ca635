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


def smoothing_factor(dt_s: float, cutoff_hz: np.ndarray | float) -> np.ndarray | float:
    """The exponential smoothing factor of a first-order low-pass at ``cutoff_hz`` for a step of ``dt_s``."""
    r = 2.0 * math.pi * np.asarray(cutoff_hz) * dt_s
    return r / (r + 1.0)


@dataclass
class _Channel:
    """One One Euro filter over an array of independent values (its last value and derivative)."""

    value: np.ndarray
    derivative: np.ndarray

    def step(self, x: np.ndarray, dt_s: float, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
        dx = (x - self.value) / dt_s
        self.derivative = self.derivative + smoothing_factor(dt_s, d_cutoff) * (dx - self.derivative)
        cutoff = min_cutoff + beta * np.abs(self.derivative)
        self.value = self.value + smoothing_factor(dt_s, cutoff) * (x - self.value)
        return self.value


class KeypointFilter:
    """One Euro over a ``[17, 2]`` keypoint array and its ``[17]`` scores. One per tracked person."""

    def __init__(self, config: OneEuroConfig | None = None):
        self.config = config or OneEuroConfig()
        self._xy: _Channel | None = None
        self._scores: _Channel | None = None
        self._time: float | None = None

    def reset(self) -> None:
        self._xy = self._scores = None
        self._time = None

    def __call__(self, xy: np.ndarray, scores: np.ndarray, time_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The filtered (xy, scores) for a frame at ``time_s`` (seconds, the frame's own clock)."""
        xy = np.asarray(xy, dtype=np.float64)
        scores = np.asarray(scores, dtype=np.float64)
        dt = None if self._time is None else time_s - self._time
        if dt == 0.0:  # the same frame twice: nothing new to filter
            return self._xy.value.copy(), self._scores.value.copy()
        if dt is None or not 0.0 < dt <= self.config.max_gap_s or self._xy.value.shape != xy.shape:
            self._xy = _Channel(xy.copy(), np.zeros_like(xy))
            self._scores = _Channel(scores.copy(), np.zeros_like(scores))
            self._time = time_s
            return xy.copy(), scores.copy()
        c = self.config
        self._time = time_s
        out_xy = self._xy.step(xy, dt, c.min_cutoff_hz, c.beta, c.derivate_cutoff_hz)
        out_s = self._scores.step(scores, dt, c.score_min_cutoff_hz, c.score_beta, c.derivate_cutoff_hz)
        return out_xy.copy(), np.clip(out_s, 0.0, 1.0)

    def pose(self, pose: Pose | None, time_s: float) -> Pose | None:
        """The filtered pose; ``None`` (nobody this frame) resets the filter and passes through."""
        if pose is None:
            self.reset()
            return None
        xy, scores = self(pose.xy, pose.scores, time_s)
        return Pose(xy.astype(pose.xy.dtype, copy=False), scores.astype(pose.scores.dtype, copy=False), pose.frame_size)
