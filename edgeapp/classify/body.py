"""Is there a body to classify? Decided from the keypoints, before any model runs.

Three refusals, each with its own status:

* **no pose**: nobody there. MoveNet always returns 17 joints, even for an empty
  table; fewer than ``MIN_PERSON_JOINTS`` (3) of them scoring ``joint_score`` means no
  person (the no-person photo tfex_table.jpg has 2; 1 of the 1000 yoga photos has fewer).

* **degenerate pose**: the keypoints span (almost) no pixels: every joint on a few
  pixels, or a torso of zero length. Every tutorial-style classifier divides by the
  torso size in its normalisation, so such a pose has no meaning and the model's
  output is whatever the kernel gives for 0/0 (NaN with some builds, a confident
  finite "chair 0.48" or "cobra 0.72" with others). Measured in frame pixels, the
  units the classifier sees; a body under ``MIN_TORSO_PX`` of torso cannot be told
  from the truncation of its coordinates to whole pixels.
* **no confident pose**: the torso is not really there (fewer than
  ``min_torso_joints`` of shoulders and hips scored at least ``joint_score``) or too
  few joints are (fewer than ``min_joints``). MoveNet always returns 17 joints, even
  for an empty frame; their scores say which ones it saw.
  Measured on the Lightning INT8 keypoints of the 1000 yoga_poses_train photos (every
  one has a body; docs/classification.md, "Is a body there"): the 0.5% quantile of the
  6th-best joint score is 0.123 and of the best torso joint 0.123, so ``joint_score``
  0.1 with 6 joints and 1 torso joint refuses 4 of the 1000 photos (0.4%), and none of
  the 497 people in the tud_campus frames. MoveNet's own 0.2 (its smart crop's trust
  level) would refuse 2.3% of the photos: Lightning INT8 scores upside-down bodies low.

Unlike the TF sample's gate (every one of the 17 joints >= 0.1), one occluded wrist
or ankle does not refuse a pose: the classifier is trained to cope with missing joints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgeapp.errors import ClassifyError

from edgeapp.pose.keypoint import BodyPart, Pose

DEGENERATE_POSE = "degenerate pose"
NO_CONFIDENT_POSE = "no confident pose"
NO_POSE = "no pose"

TORSO_JOINTS = (BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER, BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP)
_LS, _RS, _LH, _RH = (int(j) for j in TORSO_JOINTS)  # plain ints: the guard runs every frame
JOINT_SCORE = 0.1
MIN_TORSO_JOINTS = 1
MIN_JOINTS = 6
MIN_PERSON_JOINTS = 3
MIN_TORSO_PX = 2.0  # shoulder midpoint to hip midpoint
MIN_EXTENT_PX = 4.0  # the larger side of the box around all 17 joints


@dataclass(frozen=True)
class BodyGuard:
    joint_score: float = JOINT_SCORE
    min_torso_joints: int = MIN_TORSO_JOINTS
    min_joints: int = MIN_JOINTS
    min_torso_px: float = MIN_TORSO_PX
    min_extent_px: float = MIN_EXTENT_PX

    def __post_init__(self) -> None:
        if not 0.0 <= self.joint_score <= 1.0:
            raise ClassifyError(f"joint_score must be within 0..1, got {self.joint_score!r}")
        if not 0 <= self.min_torso_joints <= 4:
            raise ClassifyError(f"min_torso_joints must be 0..4, got {self.min_torso_joints!r}")
        if not 0 <= self.min_joints <= 17:
            raise ClassifyError(f"min_joints must be 0..17, got {self.min_joints!r}")

    def refusal(self, pose: Pose) -> str | None:
        """The status that refuses this pose, or None when it is a body to classify."""
        return self.check(pose_joints(pose).ravel().tolist(), pose.frame_size)[0]

    def check(self, values: list[float], frame_size: tuple[int, int]) -> tuple[str | None, float]:
        """(the status that refuses these joints or None, their lowest score). ``values`` are the 51 floats
        of a ``[17, 3]`` (x, y, score) array in row order (its ``ravel().tolist()``): a handful of Python
        floats costs less than the numpy calls, with the same IEEE double arithmetic."""
        xs, ys, ss = values[0::3], values[1::3], values[2::3]
        # a finite sum proves all 51 finite; an overflowing one sends us to the joint-by-joint test
        finite = math.isfinite(sum(values))
        if not finite and not (all(map(math.isfinite, xs)) and all(map(math.isfinite, ys))):
            return DEGENERATE_POSE, lowest(ss)
        w, h = frame_size
        if max((max(xs) - min(xs)) * w, (max(ys) - min(ys)) * h) < self.min_extent_px:
            return DEGENERATE_POSE, lowest(ss)
        if torso_px(xs, ys, w, h) < self.min_torso_px:
            return DEGENERATE_POSE, lowest(ss)
        js = self.joint_score
        low = min(ss) if finite else lowest(ss)  # no NaN among finite values: the builtin's min is numpy's
        count = sum([s >= js for s in ss])  # a NaN score is never seen
        if count < min(MIN_PERSON_JOINTS, self.min_joints):
            return NO_POSE, low
        torso = (ss[_LS] >= js) + (ss[_RS] >= js) + (ss[_LH] >= js) + (ss[_RH] >= js)
        if torso < self.min_torso_joints or count < self.min_joints:
            return NO_CONFIDENT_POSE, low
        return None, low


def lowest(scores: list[float]) -> float:
    """The lowest score; NaN when one is NaN (as numpy's min; the builtin's answer depends on the order)."""
    return math.nan if any(s != s for s in scores) else min(scores)


def torso_px(xs: list[float], ys: list[float], w: int, h: int) -> float:
    """The torso's length in pixels: shoulder midpoint to hip midpoint, for joints normalised to a w x h frame."""
    dx = 0.5 * (xs[_LS] + xs[_RS] - xs[_LH] - xs[_RH]) * w
    dy = 0.5 * (ys[_LS] + ys[_RS] - ys[_LH] - ys[_RH]) * h
    return math.hypot(dx, dy)


def pose_joints(pose: Pose, out: np.ndarray | None = None) -> np.ndarray:
    """The pose as one ``[17, 3]`` float64 array of (x, y, score), the layout the classifier works in."""
    if out is None:
        out = np.empty((17, 3))
    out[:, :2] = pose.xy
    out[:, 2] = pose.scores
    return out
