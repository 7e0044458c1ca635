"""The pose stage's keypoint smoothing: one One Euro filter per person in view, stepped once a frame, dropped
when the person is gone; ``[pose.smoothing]`` and the old ``classify.smoothing.keypoint_*`` keys."""

from __future__ import annotations

import numpy as np
import pytest

from edgeapp.config import AppConfig
from edgeapp.detect.detection import BBox
from edgeapp.errors import ConfigError
from edgeapp.pose.keypoint import Pose
from edgeapp.pose.people import PersonPose
from edgeapp.pose.smoothing import KeypointFilter, OneEuroConfig, PoseSmoother, PoseSmoothingConfig
from edgeapp.settings import read

FPS = 15.0


def walk(seed: int, n: int = 30) -> list[Pose]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.7, size=(17, 2))
    return [Pose(base + 0.01 * i + rng.normal(0, 0.004, (17, 2)), rng.uniform(0.2, 1.0, 17), (640, 480))
            for i in range(n)]


def filtered(poses: list[Pose | None], config: OneEuroConfig | None = None) -> list[Pose | None]:
    """One KeypointFilter stepped once a frame over ``poses``, reset where the person is missing."""
    f, out = KeypointFilter(config), []
    for i, pose in enumerate(poses):
        out.append(f.pose(pose, i / FPS))
    return out


def same(a: Pose | None, b: Pose | None) -> bool:
    if a is None or b is None:
        return a is b
    return np.array_equal(a.xy, b.xy) and np.array_equal(a.scores, b.scores) and a.frame_size == b.frame_size


def test_each_person_is_filtered_once_a_frame_with_their_own_state():
    a, b = walk(1), walk(2)
    smoother = PoseSmoother()
    got = [smoother.poses({3: pa, 8: pb}, i / FPS) for i, (pa, pb) in enumerate(zip(a, b))]
    assert all(same(g[3], e) for g, e in zip(got, filtered(a)))
    assert all(same(g[8], e) for g, e in zip(got, filtered(b)))
    assert not same(got[5][3], a[5])  # it did filter
    assert got[5][3].xy.dtype == np.float64  # the filter's own precision, as every consumer has read it


def test_a_person_who_leaves_drops_their_filter_and_starts_afresh_on_return():
    a, b = walk(1), walk(2)
    smoother = PoseSmoother()
    for i in range(10):
        smoother.poses({3: a[i], 8: b[i]}, i / FPS)
    assert smoother.people_filtered == (3, 8)
    for i in range(10, 13):  # 8 left: only this frame's people keep a filter
        smoother.poses({3: a[i]}, i / FPS)
        assert smoother.people_filtered == (3,)
    back = smoother.poses({3: a[13], 8: b[13]}, 13 / FPS)[8]
    assert same(back, b[13])  # a fresh filter passes the first frame through
    for i in range(14, 200):  # people come and go: the filters never outnumber a frame's people
        present = {k: p[i % 30] for k, p in ((3, a), (8, b), (i, a)) if i % (k % 5 + 2)}
        smoother.poses(present, i / FPS)
        assert set(smoother.people_filtered) == set(present)
    smoother.poses({3: None}, 201 / FPS)  # given, but no pose: nothing kept
    assert smoother.people_filtered == ()


def test_the_single_pose_path_hands_its_filter_to_the_first_tracked_id():
    """Someone posed before the tracker confirmed them keeps their filter under their new id, as their count."""
    a = walk(4)
    smoother = PoseSmoother()
    got = [smoother.pose(p, i / FPS) for i, p in enumerate(a[:10])]
    got += [smoother.people([PersonPose(5, BBox(0, 0, 1, 1), p)], (i + 10) / FPS)[0].pose for i, p in enumerate(a[10:])]
    assert all(same(g, e) for g, e in zip(got, filtered(a)))
    assert smoother.people_filtered == (5,)


def test_switched_off_the_poses_pass_unchanged():
    a = walk(5)
    smoother = PoseSmoother(PoseSmoothingConfig(enabled=False))
    assert all(smoother.pose(p, i / FPS) is p for i, p in enumerate(a)) and smoother.people_filtered == ()


def test_the_config_sets_the_filter():
    cfg = read(AppConfig, {"pose": {"smoothing": {"min_cutoff_hz": 1.0, "beta": 10.0, "max_gap_s": 0.2}}})
    assert cfg.pose.smoothing == PoseSmoothingConfig(True, 1.0, 10.0, 0.2)
    a = walk(6)
    smoother = PoseSmoother(cfg.pose.smoothing)
    got = [smoother.pose(p, i / FPS) for i, p in enumerate(a)]
    assert all(same(g, e) for g, e in zip(got, filtered(a, OneEuroConfig(min_cutoff_hz=1.0, beta=10.0, max_gap_s=0.2))))
    assert not all(same(g, e) for g, e in zip(got, filtered(a)))


@pytest.mark.parametrize("bad, key", [({"min_cutoff_hz": 0}, "min_cutoff_hz"), ({"beta": -1}, "beta"),
                                      ({"max_gap_s": 0}, "max_gap_s"), ({"enabled": 1}, "enabled")])
def test_bad_pose_smoothing_names_the_key(bad, key):
    with pytest.raises(ConfigError) as e:
        read(AppConfig, {"pose": {"smoothing": bad}})
    assert e.value.path == f"pose.smoothing.{key}"


@pytest.mark.parametrize("old, new", [("keypoint_min_cutoff_hz", "pose.smoothing.min_cutoff_hz"),
                                      ("keypoint_beta", "pose.smoothing.beta")])
def test_an_old_keypoint_key_is_an_error_naming_its_new_place(old, new):
    with pytest.raises(ConfigError) as e:
        read(AppConfig, {"classify": {"smoothing": {old: 1.0}}})
    assert e.value.path == f"classify.smoothing.{old}" and new in e.value.message
