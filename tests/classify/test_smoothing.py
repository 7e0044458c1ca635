"""The One Euro keypoint filter: less jitter on a still joint, bounded lag on a moving one."""

import numpy as np
import pytest

from edgeapp.errors import ConfigError
from edgeapp.pose.keypoint import Pose
from edgeapp.pose.smoothing import KeypointFilter, OneEuroConfig, smoothing_factor


def _still(fps, seconds=3.0, sigma=0.001, seed=0):
    rng = np.random.default_rng(seed)
    n = int(fps * seconds)
    base = rng.uniform(0.2, 0.8, size=(17, 2))
    return [(i / fps, base + rng.normal(0, sigma, size=(17, 2))) for i in range(n)], base


def _filtered(f, xy, scores, t):
    """The filter's (xy, scores) for one frame, through Pose as the pose stage feeds it."""
    out = f.pose(Pose(xy, scores, (640, 480)), t)
    return out.xy, out.scores


def _jitter(frames):
    xy = np.stack(frames)
    return float(np.linalg.norm(np.diff(xy, axis=0), axis=2).mean())


@pytest.mark.parametrize("fps", [10, 30])
def test_still_point_with_noise_gets_less_jitter(fps):
    frames, base = _still(fps)
    f = KeypointFilter()
    out = [_filtered(f, xy, np.full(17, 0.6), t)[0] for t, xy in frames]
    raw = [xy for _, xy in frames]
    # sigma 0.001 of the frame is MoveNet's jitter on a still person (about 0.6 px at 640 px)
    assert _jitter(out) < 0.9 * _jitter(raw)
    # and it stays on the point: the filter does not drift
    assert np.abs(np.mean(out[len(out) // 2:], axis=0) - base).max() < 0.001


def test_a_smaller_beta_smooths_harder():
    frames, _ = _still(30)
    soft, hard = KeypointFilter(), KeypointFilter(OneEuroConfig(min_cutoff_hz=1.0, beta=10.0))
    a = [_filtered(soft, xy, np.ones(17), t)[0] for t, xy in frames]
    b = [_filtered(hard, xy, np.ones(17), t)[0] for t, xy in frames]
    assert _jitter(b) < 0.5 * _jitter(a)


@pytest.mark.parametrize("fps", [10, 30])
def test_step_is_followed_with_bounded_lag(fps):
    f = KeypointFilter()
    a, b = np.full((17, 2), 0.3), np.full((17, 2), 0.6)
    s = np.full(17, 0.7)
    for i in range(fps):
        _filtered(f, a, s, i / fps)
    times = [1.0 + i / fps for i in range(fps)]
    out = [_filtered(f, b, s, t)[0] for t in times]
    # 90% of a 0.3-frame-wide step is reached within 0.2 s whatever the frame rate
    reached = [t for t, xy in zip(times, out) if np.abs(xy - b).max() <= 0.03]
    assert reached and reached[0] - 1.0 <= 0.2 + 1e-9
    assert np.abs(out[-1] - b).max() < 1e-3


def test_constants_are_time_based():
    # the same cut-off gives a larger step factor for a longer frame interval
    assert smoothing_factor(1 / 10, 6.36) > smoothing_factor(1 / 30, 6.36)
    assert smoothing_factor(1 / 30, 6.36) == pytest.approx(0.5712, abs=1e-4)


def test_gap_resets_the_filter():
    f = KeypointFilter(OneEuroConfig(max_gap_s=0.5))
    s = np.full(17, 0.9)
    _filtered(f, np.full((17, 2), 0.2), s, 0.0)
    _filtered(f, np.full((17, 2), 0.2), s, 1 / 30)
    jumped, _ = _filtered(f, np.full((17, 2), 0.8), s, 2.0)  # after a 2 s gap: taken as is
    np.testing.assert_array_equal(jumped, np.full((17, 2), 0.8))
    back, _ = _filtered(f, np.full((17, 2), 0.1), s, 1.0)  # time going backwards (a new file): taken as is
    np.testing.assert_array_equal(back, np.full((17, 2), 0.1))


def test_pose_none_resets_and_scores_stay_in_range():
    f = KeypointFilter()
    p = Pose(np.full((17, 2), 0.5, dtype=np.float32), np.full(17, 0.99, dtype=np.float32), (640, 480))
    assert f.pose(p, 0.0) is not None
    assert f.pose(None, 0.033) is None
    q = Pose(np.full((17, 2), 0.1, dtype=np.float32), np.ones(17, dtype=np.float32), (640, 480))
    out = f.pose(q, 0.066)
    np.testing.assert_array_equal(out.xy, q.xy)
    assert out.xy.dtype == np.float64 and out.frame_size == (640, 480)  # the filter's precision
    r = f.pose(Pose(q.xy, np.zeros(17, dtype=np.float32), (640, 480)), 0.1)
    assert (0 <= r.scores).all() and (r.scores <= 1).all() and r.scores.max() < 1.0


def test_bad_config_is_refused():
    with pytest.raises(ConfigError, match="min_cutoff_hz"):
        OneEuroConfig(min_cutoff_hz=0)
    with pytest.raises(ConfigError, match="beta"):
        OneEuroConfig(beta=-1)
