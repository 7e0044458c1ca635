"""The signal an exercise follows, read from one frame's keypoints: pure functions over plain floats.

A side is *visible* when every joint its signal needs (with the shoulder and hip for the torso length
of ``height``/``distance``) scores at least ``min_score``; an invisible side gives no value, never a
guess. ``better`` picks the side whose weakest needed joint scores highest, and keeps it: for the whole
of a repetition (``hold``; a frame where it is hidden gives no value, which the counter bridges, rather
than the other side's), and otherwise while it stays visible until the other side's weakest joint
scores ``SWITCH_MARGIN`` higher. Two sides seen from the front differ by several degrees, so hopping
between them mid-rep would put one side's bottom next to the other's top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from edgeapp.exercise.definition import SIDES, Exercise

# The TF.js pose-detection demo's MoveNet keypoint threshold (MOVENET_CONFIG.scoreThreshold in
# tfjs-models pose-detection/demos/live_video/src/params.js).
DEFAULT_MIN_SCORE = 0.3
SWITCH_MARGIN = 0.2


@dataclass(frozen=True)
class Reading:
    value: float | None  # None: the joints the exercise needs are not visible
    side: str | None  # left, right, both


NOTHING = Reading(None, None)


class SignalReader:
    """Reads one exercise's signal. Holds the joint indices only; the chosen side is passed in and out."""

    def __init__(self, exercise: Exercise, min_score: float = DEFAULT_MIN_SCORE):
        self.exercise = exercise
        self.min_score = min_score
        self._joints = {s: tuple(exercise.joint_index(j, s) for j in exercise.joints) for s in SIDES}
        torso = exercise.signal != "angle"
        self._torso = {s: (exercise.joint_index("shoulder", s), exercise.joint_index("hip", s)) for s in SIDES}
        self._needed = {s: self._joints[s] + (self._torso[s] if torso else ()) for s in SIDES}

    def read(self, points: Sequence[Sequence[float]], scores: Sequence[float], previous: str | None = None,
             hold: bool = False, scale: tuple[float, float] = (1.0, 1.0)) -> Reading:
        """``points``: 17 (x, y), times ``scale`` in pixels (the frame size for normalised points, so angles
        are true on non-square frames); ``scores``: 17 floats. ``previous`` is the side read last; ``hold``
        keeps it while it is visible (a rep in progress)."""
        side = self.exercise.side
        if side in SIDES:
            return self._one(points, scores, side, scale)
        if side == "both":
            left, right = self._one(points, scores, "left", scale), self._one(points, scores, "right", scale)
            if left.value is None or right.value is None:
                return NOTHING
            return Reading((left.value + right.value) / 2, "both")
        return self._better(points, scores, previous, hold, scale)

    def _better(self, points, scores, previous: str | None, hold: bool, scale) -> Reading:
        left, right = self._weakest(scores, "left"), self._weakest(scores, "right")
        best, quality = ("left", left) if left >= right else ("right", right)
        if previous in SIDES:
            kept = left if previous == "left" else right
            if hold:  # a rep is read on one side: while it is hidden, no value (the counter bridges the gap)
                best, quality = previous, kept
            elif kept >= self.min_score and quality < kept + SWITCH_MARGIN:
                best, quality = previous, kept
        if quality < self.min_score:
            return NOTHING
        return self._value(points, best, scale)

    def _weakest(self, scores, side: str) -> float:
        return min([scores[i] for i in self._needed[side]])

    def _one(self, points, scores, side: str, scale) -> Reading:
        if self._weakest(scores, side) < self.min_score:
            return NOTHING
        return self._value(points, side, scale)

    def _value(self, points, side: str, scale) -> Reading:
        sx, sy = scale
        p = [(points[i][0] * sx, points[i][1] * sy) for i in self._joints[side]]
        kind = self.exercise.signal
        if kind == "angle":
            return Reading(joint_angle(p[0], p[1], p[2]), side)
        (x0, y0), (x1, y1) = (points[i] for i in self._torso[side])
        torso = math.hypot((x1 - x0) * sx, (y1 - y0) * sy)
        if torso <= 1e-6:  # a collapsed pose: no scale to measure in
            return NOTHING
        if kind == "height":
            return Reading((p[1][1] - p[0][1]) / torso, side)  # image y grows downwards
        return Reading(math.dist(p[0], p[1]) / torso, side)


def joint_angle(a: Sequence[float], b: Sequence[float], c: Sequence[float]) -> float | None:
    """The angle a-b-c at ``b`` in degrees, 0..180; None when a limb has no length."""
    ux, uy = a[0] - b[0], a[1] - b[1]
    vx, vy = c[0] - b[0], c[1] - b[1]
    if (ux == 0 and uy == 0) or (vx == 0 and vy == 0):
        return None
    return math.degrees(abs(math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)))
