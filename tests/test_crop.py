"""Smart-crop geometry (peers.md §2.3), as pure functions."""

from __future__ import annotations

import numpy as np
import pytest

from edgeapp.pose.crop import CropRegion, determine_crop_region, init_crop_region, torso_visible
from edgeapp.pose.keypoint import BodyPart
from edgeapp.window import InputWindow, affine, sample, to_frame


def test_init_region_landscape_pads_top_and_bottom():
    r = init_crop_region(480, 640)
    assert (r.x_min, r.x_max) == (0.0, 1.0)
    assert r.y_min == pytest.approx(-1 / 6)
    assert r.y_max == pytest.approx(7 / 6)
    assert r.height == pytest.approx(4 / 3)


def test_init_region_portrait_pads_left_and_right():
    r = init_crop_region(640, 480)
    assert (r.y_min, r.y_max) == (0.0, 1.0)
    assert r.x_min == pytest.approx(-1 / 6) and r.width == pytest.approx(4 / 3)


def test_init_region_square_is_the_frame():
    assert init_crop_region(300, 300) == CropRegion(0.0, 0.0, 1.0, 1.0)


def _standing(cx=320.0, cy=240.0, scale=40.0, w=640, h=480, score=0.9):
    """A stick figure in pixels: shoulders one unit above hips, ankles two below."""
    px = np.zeros((17, 2))
    px[:] = (cx, cy)
    for part, dx, dy in [
        (BodyPart.NOSE, 0, -1.6), (BodyPart.LEFT_SHOULDER, 0.4, -1), (BodyPart.RIGHT_SHOULDER, -0.4, -1),
        (BodyPart.LEFT_HIP, 0.3, 0), (BodyPart.RIGHT_HIP, -0.3, 0), (BodyPart.LEFT_KNEE, 0.3, 1),
        (BodyPart.RIGHT_KNEE, -0.3, 1), (BodyPart.LEFT_ANKLE, 0.3, 2), (BodyPart.RIGHT_ANKLE, -0.3, 2),
        (BodyPart.LEFT_WRIST, 0.9, -0.3), (BodyPart.RIGHT_WRIST, -0.9, -0.3),
    ]:
        px[part] = (cx + dx * scale, cy + dy * scale)
    return px / (w, h), np.full(17, score)


def test_torso_visible_needs_a_hip_and_a_shoulder():
    scores = np.zeros(17)
    scores[BodyPart.LEFT_HIP] = 0.21
    assert not torso_visible(scores)
    scores[BodyPart.RIGHT_SHOULDER] = 0.21
    assert torso_visible(scores)
    scores[BodyPart.RIGHT_SHOULDER] = 0.2  # strictly greater than 0.2
    assert not torso_visible(scores)


def test_crop_follows_the_body_as_a_pixel_square():
    xy, scores = _standing()
    r = determine_crop_region(xy, scores, 480, 640)
    # body range: ankles 2 units (80 px) below the hip centre -> half = 1.2 * 80 = 96
    # torso range: shoulders 40 px above -> 1.9 * 40 = 76 < 96
    assert r.x_min * 640 == pytest.approx(320 - 96)
    assert r.y_min * 480 == pytest.approx(240 - 96)
    assert r.width * 640 == pytest.approx(192) and r.height * 480 == pytest.approx(192)


def test_body_range_is_per_joint_not_the_right_hip():
    """The TF RPi sample reads the right hip for every joint; the canonical crop sees the far wrist."""
    xy, scores = _standing()
    xy[BodyPart.LEFT_WRIST] = ((320 + 150) / 640, 240 / 480)
    r = determine_crop_region(xy, scores, 480, 640)
    assert r.width * 640 == pytest.approx(2 * 1.2 * 150)


def test_low_score_joints_do_not_widen_the_crop():
    xy, scores = _standing()
    xy[BodyPart.LEFT_WRIST] = ((320 + 150) / 640, 240 / 480)
    scores[BodyPart.LEFT_WRIST] = 0.19
    r = determine_crop_region(xy, scores, 480, 640)
    assert r.width * 640 == pytest.approx(192)


def test_reset_when_torso_not_visible():
    xy, scores = _standing()
    scores[[BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP]] = 0.1
    assert _same(determine_crop_region(xy, scores, 480, 640), init_crop_region(480, 640))


def _same(a: CropRegion, b: CropRegion) -> bool:
    return np.allclose([a.y_min, a.x_min, a.y_max, a.x_max], [b.y_min, b.x_min, b.y_max, b.x_max])


def test_border_clamp_limits_half_to_the_farthest_border():
    # hips at the frame centre, ankles 300 px below: 1.2 * 300 = 360 is clamped to
    # max(cx, W - cx, cy, H - cy) = 320, which is not over max(W, H) / 2, so no reset
    xy, scores = _standing(cx=320, cy=240, scale=150)
    r = determine_crop_region(xy, scores, 480, 640)
    assert r.width * 640 == pytest.approx(640) and r.height * 480 == pytest.approx(640)
    assert (r.x_min + r.x_max) / 2 == pytest.approx(0.5) and (r.y_min + r.y_max) / 2 == pytest.approx(0.5)


def test_reset_when_crop_would_exceed_half_the_frame():
    # off-centre hips: the clamp allows 400 > max(640, 480) / 2, so the crop resets
    xy, scores = _standing(cx=240, cy=240, scale=150)
    assert _same(determine_crop_region(xy, scores, 480, 640), init_crop_region(480, 640))


def test_window_snaps_like_the_sample_and_maps_back():
    r = init_crop_region(640, 399)
    win = r.window(399, 640)
    # the sample pads int(0.302 * 399) = 120 columns each side and keeps the frame
    assert (win.x0, win.x1, win.y0, win.y1) == (-120.0, 519.0, 0.0, 640.0)
    centre = to_frame(win, np.array([[0.5, 0.5]]))[0]
    assert centre == pytest.approx((199.5, 320.0))


def test_sample_pads_black_and_keeps_pixels_aligned():
    frame = np.full((100, 200, 3), 200, np.uint8)
    out = sample(frame, InputWindow(0, -50, 200, 150), 100, 100)
    assert out[:20].max() == 0 and out[-20:].max() == 0  # outside the frame: black
    assert (out[30:70] == 200).all()
    m = affine(InputWindow.stretch(200, 100), 200, 100)
    assert np.allclose(m, [[1, 0, 0], [0, 1, 0]])  # identity window is the identity map


def test_letterbox_window_keeps_the_aspect():
    w = InputWindow.letterbox(640, 480, 300, 300)
    assert w.width == pytest.approx(640) and w.height == pytest.approx(640)
