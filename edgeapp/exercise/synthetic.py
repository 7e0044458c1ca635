"""Synthetic keypoint sequences whose exercise signal is known exactly: for tests and ``bench reps``.

A standing skeleton is posed so that the exercise's signal takes a given value on both sides: for an
angle the distal joint is swung around the middle one, for a height the first joint is lifted
relative to the second. Everything else stays put, so the signal is exact before the noise is added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgeapp.exercise.definition import SIDES, Exercise
from edgeapp.pose.keypoint import BodyPart as P
from edgeapp.pose.keypoint import Pose

FRAME_SIZE = (480, 640)  # (width, height): portrait, a kiosk camera on its side
# A person standing, facing the camera, in pixels of FRAME_SIZE (x, y).
STANDING = {
    P.NOSE: (240, 110), P.LEFT_EYE: (248, 102), P.RIGHT_EYE: (232, 102), P.LEFT_EAR: (258, 106),
    P.RIGHT_EAR: (222, 106), P.LEFT_SHOULDER: (280, 160), P.RIGHT_SHOULDER: (200, 160),
    P.LEFT_ELBOW: (290, 230), P.RIGHT_ELBOW: (190, 230), P.LEFT_WRIST: (295, 300), P.RIGHT_WRIST: (185, 300),
    P.LEFT_HIP: (265, 320), P.RIGHT_HIP: (215, 320), P.LEFT_KNEE: (268, 430), P.RIGHT_KNEE: (212, 430),
    P.LEFT_ANKLE: (270, 540), P.RIGHT_ANKLE: (210, 540),
}
SCORE = 0.8


@dataclass(frozen=True)
class Trace:
    times: np.ndarray
    values: np.ndarray


def sine_reps(reps: int, rest: float, far: float, period_s: float, fps: float, lead_s: float = 1.0,
              tail_s: float = 1.0) -> Trace:
    """``reps`` cosine cycles from ``rest`` to ``far`` and back, with ``lead_s``/``tail_s`` held at rest."""
    t = np.arange(0.0, lead_s + reps * period_s + tail_s, 1.0 / fps)
    phase = np.clip((t - lead_s) / period_s, 0.0, reps)
    values = far + (rest - far) * (0.5 + 0.5 * np.cos(2 * math.pi * phase))
    return Trace(t, values)


def concat(*traces: Trace, fps: float) -> Trace:
    """Traces one after another on one clock."""
    times, values, start = [], [], 0.0
    for tr in traces:
        times.append(tr.times - tr.times[0] + start)
        values.append(tr.values)
        start = times[-1][-1] + 1.0 / fps
    return Trace(np.concatenate(times), np.concatenate(values))


def hold(value: float, seconds: float, fps: float) -> Trace:
    n = max(1, int(round(seconds * fps)))
    return Trace(np.arange(n) / fps, np.full(n, float(value)))


def pose_for(exercise: Exercise, value: float, rng: np.random.Generator | None = None, noise_px: float = 0.0,
             hidden: tuple[int, ...] = ()) -> Pose:
    """A pose whose signal is ``value`` on both sides (before ``noise_px`` of Gaussian noise per
    coordinate); the joints in ``hidden`` score 0.05, as MoveNet scores a joint it cannot see."""
    pts = {k: np.array(v, dtype=np.float64) for k, v in STANDING.items()}
    for side in SIDES:
        idx = [exercise.joint_index(j, side) for j in exercise.joints]
        if exercise.signal == "angle":
            a, b, c = idx
            length = float(np.linalg.norm(pts[c] - pts[b]))
            base = math.atan2(*(pts[a] - pts[b])[::-1])
            turn = math.radians(value) * (1 if side == "left" else -1)
            pts[c] = pts[b] + length * np.array([math.cos(base + turn), math.sin(base + turn)])
        else:
            torso = float(np.linalg.norm(pts[exercise.joint_index("shoulder", side)] - pts[exercise.joint_index("hip", side)]))
            a, b = idx
            if exercise.signal == "height":
                pts[a] = np.array([pts[a][0], pts[b][1] - value * torso])
            else:
                direction = (pts[a] - pts[b]) / max(float(np.linalg.norm(pts[a] - pts[b])), 1e-9)
                pts[a] = pts[b] + direction * value * torso
    xy = np.array([pts[k] for k in sorted(pts)], dtype=np.float64)
    if noise_px and rng is not None:
        xy = xy + rng.normal(0.0, noise_px, xy.shape)
    scores = np.full(17, SCORE, dtype=np.float32)
    scores[list(hidden)] = 0.05
    w, h = FRAME_SIZE
    return Pose((xy / (w, h)).astype(np.float32), scores, FRAME_SIZE)
