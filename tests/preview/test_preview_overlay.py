"""The drawing functions: pure, on numpy images, drawing what the result carries."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from edgeapp.preview import overlay
from edgeapp.detect.detection import Detection
from edgeapp.preview.overlay import draw_detections, draw_skeleton, pose_text, render


def blank(w=320, h=240) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


def test_skeleton_draws_confident_edges_only():
    xy = np.tile([0.5, 0.5], (17, 1)).astype(float)
    xy[overlay.P.LEFT_HIP] = (0.2, 0.2)
    xy[overlay.P.RIGHT_HIP] = (0.8, 0.2)
    scores = np.zeros(17)
    img = draw_skeleton(blank(), xy, scores)
    assert not img.any()  # nothing confident: nothing drawn
    scores[[overlay.P.LEFT_HIP, overlay.P.RIGHT_HIP]] = 0.9
    img = draw_skeleton(blank(), xy, scores)
    row = img[int(0.2 * 239)]
    assert row[160].any(), "the hip-to-hip edge crosses the middle"
    assert not img[200:].any()


def test_detections_and_the_target_by_track_id():
    person = Detection("person", 0, 0.9, (0.1, 0.1, 0.4, 0.9), id=7)
    dog = Detection("dog", 17, 0.6, (0.6, 0.5, 0.9, 0.9))
    img = draw_detections(blank(), [person, dog], target=7)
    # The target's box is red, the other green.
    assert (img[..., 2] > 200).any() and img[int(0.9 * 239) - 1: int(0.9 * 239) + 2, int(0.75 * 319), 1].max() > 150
    red = img[int(0.5 * 239), int(0.1 * 319)]
    assert red[2] > 200 and red[1] < 50


def test_render_copies_and_draws_the_status():
    frame = blank()
    pose = SimpleNamespace(xy=np.full((17, 2), 0.5), scores=np.full(17, 0.9))
    state = {"pose": {"label": "tree", "score": 0.93, "held_s": 4.25}, "fps": 12.0, "backend": "edgetpu",
             "fallback": False}
    out = render(frame, state, pose=pose, detections=[Detection("person", 0, 0.8, (0, 0, 1, 1))])
    assert not frame.any(), "the pipeline's frame is never drawn on"
    assert out.shape == frame.shape and out.any()
    assert pose_text("tree", 0.93, 4.25) == "tree 93%  held 4.2 s"
    assert pose_text(None, None, 0, candidate="warrior") == "warrior?" and pose_text(None, None, 0) == "no pose"
    assert overlay.status_text(9.5, "cpu", True) == "9.5 fps  cpu (fallback)"


def test_every_person_is_drawn_with_their_id():
    def standing(x):
        xy = np.tile([x, 0.5], (17, 1)).astype(float)
        xy[:, 1] = np.linspace(0.2, 0.9, 17)
        return SimpleNamespace(xy=xy, scores=np.full(17, 0.9), box=(x, 0.2, x, 0.9))

    people = [SimpleNamespace(id=4, pose=standing(0.25)), SimpleNamespace(id=9, pose=standing(0.75))]
    img = render(blank(), {}, pose=people[0].pose, people=people)
    for x in (0.25, 0.75):
        assert img[int(0.6 * 239), int(x * 319) - 3: int(x * 319) + 4].any(), "each skeleton is drawn"
    drawn = overlay.draw_people(blank(), people)
    label = drawn[:int(0.2 * 239) + 2]  # the ids sit above the heads, white text on black
    assert (label[:, 40:120] == 255).any() and (label[:, 200:280] == 255).any()
    alone = render(blank(), {}, pose=people[0].pose)
    assert not alone[int(0.6 * 239), int(0.75 * 319) - 3: int(0.75 * 319) + 4].any()  # one pose: one skeleton
