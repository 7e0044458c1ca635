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

Smoothing is the pose stage's work, as in TF.js (whose detector filters before it returns):
:class:`PoseSmoother` keeps one :class:`KeypointFilter` per person in view, owned by the
pipeline's pose side and stepped once a frame; classification, repetition counting, pose
events and the preview all read the one filtered pose. The smart crop reads the raw one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from edgeapp.errors import ConfigError
from edgeapp.pose.keypoint import Pose
from edgeapp.pose.people import PersonPose

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

    def joints(self) -> np.ndarray:
        """The filtered ``[17, 3]`` (x, y, score) in a new array, scores clipped to 0..1."""
        # maximum then minimum: np.clip's answer at half its cost on 51 values
        out = np.maximum(self._value, self._low)
        return np.minimum(out, self._high, out=out)

    def pose(self, pose: Pose | None, time_s: float) -> Pose | None:
        """The filtered pose, in float64 views of one new ``[17, 3]`` array (the filter's precision, which every
        consumer reads); ``None`` (nobody this frame) resets the filter and passes through."""
        if pose is None:
            self.reset()
            return None
        self.step(pose.xy, pose.scores, time_s)
        joints = self.joints()
        return Pose(joints[:, :2], joints[:, 2], pose.frame_size)


@dataclass(frozen=True)
class PoseSmoothingConfig:
    """The ``[pose.smoothing]`` table: One Euro on each person's keypoints, video and camera sources only."""

    enabled: bool = True  # One Euro on the keypoints of video and camera frames (still images never)
    min_cutoff_hz: float = MIN_CUTOFF_HZ  # TF.js MoveNet constants, coordinates normalised to the frame
    beta: float = BETA  # speed coefficient, per frame-width per second
    max_gap_s: float = MAX_GAP_S  # a longer gap between a person's frames starts their filter afresh

    def one_euro(self) -> OneEuroConfig:
        return OneEuroConfig(min_cutoff_hz=self.min_cutoff_hz, beta=self.beta, max_gap_s=self.max_gap_s)

    def check(self, problems) -> None:
        problems.require(self.min_cutoff_hz > 0, "min_cutoff_hz", f"must be above 0 Hz, got {self.min_cutoff_hz}")
        problems.require(self.beta >= 0, "beta", f"must be 0 or more, got {self.beta}")
        problems.require(0.0 < self.max_gap_s <= 60.0, "max_gap_s",
                         f"must be a number of seconds above 0 and at most 60, got {self.max_gap_s}")


class PoseSmoother:
    """One :class:`KeypointFilter` per person in view, each stepped once a frame.

    A person is a track id, or None for the single-pose path. A person not given in a frame (left,
    no longer followed, or no pose) drops their filter: absence resets a filter anyway, and the dict
    never holds more than one frame's people. Someone posed without an id (before the tracker
    confirmed anyone) who is then tracked keeps their filter under the first new id, as the rep
    counter keeps their count. Disabled (or for still images) poses pass through unchanged."""

    def __init__(self, config: PoseSmoothingConfig | None = None):
        config = config or PoseSmoothingConfig()
        self._one_euro = config.one_euro() if config.enabled else None
        self._filters: dict[int | None, KeypointFilter] = {}

    @property
    def people_filtered(self) -> tuple[int | None, ...]:
        """Whose filters are kept (this frame's people)."""
        return tuple(self._filters)

    def poses(self, poses: Mapping[int | None, Pose | None], time_s: float) -> dict[int | None, Pose | None]:
        """Each person's filtered pose for the frame at ``time_s`` (None stays None)."""
        if self._one_euro is None:
            return dict(poses)
        old, kept, out = self._filters, {}, {}
        handover = None not in poses
        for person, pose in poses.items():
            if pose is None:
                out[person] = None
                continue
            f = old.pop(person, None)
            if f is None and handover and person is not None:
                f, handover = old.pop(None, None), False
            f = kept[person] = f or KeypointFilter(self._one_euro)
            out[person] = f.pose(pose, time_s)
        self._filters = kept
        return out

    def pose(self, pose: Pose | None, time_s: float) -> Pose | None:
        """The single-pose path (person None)."""
        return self.poses({None: pose}, time_s)[None]

    def people(self, people: Sequence[PersonPose], time_s: float) -> list[PersonPose]:
        """Tracked people, each with their filtered pose."""
        steady = self.poses({p.id: p.pose for p in people}, time_s)
        return [PersonPose(p.id, p.box, steady[p.id]) for p in people]
