"""Synthetic training poses (edgeapp/classify/synthetic.py): 3D skeletons of the five yoga poses and the
camera that sees them. Pure numpy: each template is checked for the anatomy its docstring states, seen
level from the front or the side, where a person would check a drawing of it."""

from __future__ import annotations

import numpy as np
import pytest

from edgeapp.classify.synthetic import (FOREARM, SHANK, TEMPLATES, THIGH, UPPER_ARM, project, synthetic_table)
from edgeapp.errors import ClassifyError
from edgeapp.pose.keypoint import KEYPOINT_NAMES

N = 500
J = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
BONES = [(f"{s}_{a}", f"{s}_{b}", length) for s in ("left", "right")
         for a, b, length in (("shoulder", "elbow", UPPER_ARM), ("elbow", "wrist", FOREARM),
                              ("hip", "knee", THIGH), ("knee", "ankle", SHANK))]


def poses(label: str) -> np.ndarray:
    return TEMPLATES[label](np.random.default_rng(7), N)


def seen(points: np.ndarray, azimuth_deg: float, elevation_deg: float = 0.0) -> np.ndarray:
    """Pixels (y down) from a camera level with the body (or at ``elevation_deg``), far away (nearly orthographic)."""
    n = len(points)
    full = np.full(n, 1.0)
    return project(points, full * np.deg2rad(azimuth_deg), full * np.deg2rad(elevation_deg), 0 * full, 1e4 * full,
                   60 * full)


def height(px: np.ndarray, joint: str) -> np.ndarray:
    """How high a joint is in the image (up is positive)."""
    return -px[:, J[joint], 1]


def mid(px: np.ndarray, a: str, b: str) -> np.ndarray:
    return (height(px, a) + height(px, b)) / 2


@pytest.mark.parametrize("label", TEMPLATES)
def test_every_limb_keeps_its_length(label):
    p = poses(label)
    assert np.isfinite(p).all()
    for a, b, length in BONES:
        np.testing.assert_allclose(np.linalg.norm(p[:, J[a]] - p[:, J[b]], axis=1), length, atol=1e-6,
                                   err_msg=f"{label}: {a}-{b}")


def test_tree_stands_on_one_straight_leg_with_the_hands_above_the_hips():
    px = seen(poses("tree"), 0)
    ankles = np.stack([height(px, "left_ankle"), height(px, "right_ankle")], 1)
    lifted = ankles.max(1) - ankles.min(1)
    assert (lifted > 0.2 * 60 / 0.288 * 0.246).all()  # the raised foot is well off the floor, on the other leg
    assert (height(px, "nose") > mid(px, "left_hip", "right_hip")).all()
    assert (mid(px, "left_wrist", "right_wrist") > mid(px, "left_hip", "right_hip")).all()
    left = ankles[:, 0] > ankles[:, 1]
    assert 0.35 < left.mean() < 0.65  # either leg


def test_chair_bends_the_knees_forward_and_raises_the_arms():
    p = poses("chair")
    side = seen(p, 90)  # from the body's left
    assert (p[:, J["left_knee"], 2] > p[:, J["left_hip"], 2]).all()  # the knees ahead of the hips (+z: forward)
    assert (height(side, "left_wrist") > height(side, "left_shoulder")).mean() > 0.8
    assert (height(side, "left_hip") > height(side, "left_knee")).all()


def test_cobra_lies_with_the_chest_lifted_and_the_legs_on_the_floor():
    px = seen(poses("cobra"), 90)
    shoulders, hips = mid(px, "left_shoulder", "right_shoulder"), mid(px, "left_hip", "right_hip")
    ankles = mid(px, "left_ankle", "right_ankle")
    assert (shoulders > hips).all() and (np.abs(ankles - hips) < 0.25 * 60 / 0.288 * 0.49).all()


def test_dog_is_an_inverted_v_with_the_hips_highest():
    px = seen(poses("dog"), 90)
    hips = mid(px, "left_hip", "right_hip")
    for other in ("left_shoulder", "left_wrist", "left_ankle", "nose"):
        assert (hips > height(px, other)).all(), other


def test_warrior_stretches_one_leg_back_and_stands_on_the_other():
    p = poses("warrior")
    px = seen(p, 90)
    ankles = np.stack([height(px, "left_ankle"), height(px, "right_ankle")], 1)
    back = np.stack([p[:, J["left_ankle"], 2], p[:, J["right_ankle"], 2]], 1).min(1) - p[:, J["left_hip"], 2]
    assert (back < -0.15).all()  # one foot well behind the hips
    raised = ankles.max(1) - ankles.min(1)
    assert (raised > 0).all() and np.median(raised) > 0.5 * 60  # off the floor; half a torso or more mostly


def test_a_camera_above_sees_the_body_foreshortened():
    p = poses("tree")
    level, above = seen(p, 0), seen(p, 0, 89.9)
    span = lambda px: np.ptp(px[:, :, 1], axis=1)  # noqa: E731
    assert (span(above) < 0.5 * span(level)).all()


def test_the_table_has_each_pose_but_other():
    labels = ("chair", "cobra", "dog", "tree", "warrior", "other")
    t = synthetic_table(labels, 30, np.random.default_rng(1))
    assert t.labels == labels and len(t) == 150
    assert np.bincount(t.class_no, minlength=6).tolist() == [30, 30, 30, 30, 30, 0]
    assert t.files[0] == "synthetic/chair/0" and np.array_equal(t.xy, np.trunc(t.xy))
    again = synthetic_table(labels, 30, np.random.default_rng(1))
    assert np.array_equal(t.xy, again.xy) and np.array_equal(t.scores, again.scores)


def test_a_class_without_a_template_is_named():
    with pytest.raises(ClassifyError, match="'plank'"):
        synthetic_table(("chair", "plank"), 5, np.random.default_rng(0))
