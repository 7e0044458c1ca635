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

    The state is one ``[17, 3]`` float64 array of (x, y, score) with per-column constants, updated
    in place: a frame costs a dozen numpy calls on preallocated buffers, and nothing else."""

    def __init__(self, config: OneEuroConfig | None = None):
        self.config = c = config or OneEuroConfig()
        # full [17, 3] constants: an in-place op on equal shapes costs a third of one that broadcasts
        self._min_cutoff = np.tile([c.min_cutoff_hz, c.min_cutoff_hz, c.score_min_cutoff_hz], (17, 1))
        self._beta = np.tile([c.beta, c.beta, c.score_beta], (17, 1))
        self._value = np.zeros((17, 3))
        self._derivative = np.zeros((17, 3))
        self._x, self._diff, self._tmp = np.zeros((17, 3)), np.zeros((17, 3)), np.zeros((17, 3))
        # fixed views: a new frame is subtracted from the state straight out of the pose's two arrays
        self._value_xy, self._value_scores = self._value[:, :2], self._value[:, 2]
        self._diff_xy, self._diff_scores = self._diff[:, :2], self._diff[:, 2]
        self._time: float | None = None
        self._two_pi = 2.0 * math.pi
        # what the state may read as: the filter can carry a score past 0 or 1, coordinates are left as they are
        self._low = np.tile([-np.inf, -np.inf, 0.0], (17, 1))
        self._high = np.tile([np.inf, np.inf, 1.0], (17, 1))

    def reset(self) -> None:
        self._time = None

    def __call__(self, xy: np.ndarray, scores: np.ndarray, time_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The filtered (xy, scores) for a frame at ``time_s`` (seconds, the frame's own clock)."""
        self.step(xy, scores, time_s)
        joints = self.joints()
        return joints[:, :2], joints[:, 2]

    def step(self, xy: np.ndarray, scores: np.ndarray, time_s: float) -> np.ndarray:
        """Filter one frame; returns the ``[17, 3]`` (x, y, score) state itself, scores unclipped
        (read it before the next call, never write it)."""
        last, v = self._time, self._value
        if last is not None and time_s == last:  # the same frame twice: nothing new to filter
            return v
        self._time = time_s
        if last is None or not 0.0 < time_s - last <= self.config.max_gap_s:
            v[:, :2] = xy
            v[:, 2] = scores
            self._derivative.fill(0.0)
            return v
        dt = time_s - last
        x, diff, r, d = self._x, self._diff, self._tmp, self._derivative
        # d += a_d * ((x - v) / dt - d); v += a(cutoff) * (x - v), cutoff = min_cutoff + beta * |d|,
        # a(f) = r / (r + 1) with r = 2 pi dt f: the operations of smoothing_factor, in its order.
        np.subtract(xy, self._value_xy, out=self._diff_xy)
        np.subtract(scores, self._value_scores, out=self._diff_scores)
        np.divide(diff, dt, out=x)
        x -= d
        x *= smoothing_factor(dt, self.config.derivate_cutoff_hz)
        d += x
        np.abs(d, out=r)
        r *= self._beta
        r += self._min_cutoff
        r *= self._two_pi * dt
        np.add(r, 1.0, out=x)
        r /= x
        r *= diff
        v += r
        return v

    def joints(self, out: np.ndarray | None = None) -> np.ndarray:
        """The filtered ``[17, 3]`` (x, y, score), scores clipped to 0..1 (into ``out`` when given)."""
        if out is None:
            out = np.empty_like(self._value)
        # maximum then minimum: np.clip's answer at half its cost on 51 values
        return np.minimum(np.maximum(self._value, self._low, out=out), self._high, out=out)

    def pose(self, pose: Pose | None, time_s: float) -> Pose | None:
        """The filtered pose; ``None`` (nobody this frame) resets the filter and passes through."""
        if pose is None:
            self.reset()
            return None
        self.step(pose.xy, pose.scores, time_s)
        joints = self.joints()
        return Pose(joints[:, :2].astype(pose.xy.dtype), joints[:, 2].astype(pose.scores.dtype), pose.frame_size)
