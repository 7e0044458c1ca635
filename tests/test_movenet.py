"""MoveNet single-pose against Coral's and TensorFlow's published references."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from support.shared import DATA, IMAGES, MOVENET
from edgeapp.camera import open_source
from edgeapp.pose import KEYPOINT_NAMES, MoveNet
from edgeapp.runtime.backend import BackendRequest
from edgeapp.runtime.model import Model
from edgeapp.window import InputWindow

REFERENCE = DATA / "reference"


@pytest.fixture(scope="module")
def movenet():
    return MoveNet(Model.open(MOVENET, BackendRequest("cpu")))


def test_coral_reference_on_squat(movenet):
    """libcoral movenet_test.cc: full-frame stretch, keypoints > 0.4 on both sides within 0.04, >= 8 compared."""
    image = cv2.imread(str(IMAGES / "squat.bmp"))
    pose = movenet.estimate_in(image, InputWindow.stretch(image.shape[1], image.shape[0]))
    rows = list(csv.DictReader(open(REFERENCE / "movenet_single_pose_lightning_ptq_reference.csv")))
    assert len(rows) == 17
    compared, worst = 0, 0.0
    for i, row in enumerate(rows):
        if float(row["keypoint_score"]) > 0.4 and pose.scores[i] > 0.4:
            compared += 1
            dx, dy = abs(float(row["keypoint_x"]) - pose.xy[i, 0]), abs(float(row["keypoint_y"]) - pose.xy[i, 1])
            assert dx <= 0.04 and dy <= 0.04, KEYPOINT_NAMES[i]
            worst = max(worst, dx, dy)
    assert compared >= 8
    print(f"coral squat.bmp: {compared} keypoints compared, max |d| {worst:.3f} (tolerance 0.04)")


@pytest.mark.parametrize("row, image", [(0, "tfex_pose_image1.png"), (1, "tfex_pose_image2.jpeg")])
def test_tf_sample_truth_with_still_smart_crop(movenet, row, image):
    """tensorflow/examples movenet_test.py: every keypoint within 21 px (L-inf) of the truth."""
    truth = list(csv.reader(open(REFERENCE / "tfex_pose_landmark_truth.csv")))[1 + row]
    expected = np.array(truth, dtype=float).reshape(17, 2)  # x before y
    pose = movenet.estimate_still(cv2.imread(str(IMAGES / image)), passes=3)
    error = np.abs(pose.pixels - expected).max(axis=1)
    assert error.max() <= 21, dict(zip(KEYPOINT_NAMES, error))
    print(f"TF sample truth {image}: worst keypoint {error.max()} px (tolerance 21)")


def test_pose_fields(movenet):
    image = cv2.imread(str(IMAGES / "tfex_pose_image1.png"))
    pose = movenet.estimate_still(image)
    h, w = image.shape[:2]
    assert pose.frame_size == (w, h)
    kps = pose.keypoints()
    assert [k.name for k in kps] == list(KEYPOINT_NAMES)
    assert all(0 <= k.x <= 1 and 0 <= k.y <= 1 for k in kps)
    assert kps[0].px == int(kps[0].x * w)
    xmin, ymin, xmax, ymax = pose.box
    assert xmin < xmax and ymin < ymax
    assert pose.score == pytest.approx(pose.scores[pose.scores > 0.1].mean())
    # the nose is above the ankles: x is horizontal, y grows downwards
    assert kps[0].y < kps[15].y


def _small_person_clip(path, frames=30):
    """A person a third of her size walking across a wide, blurred street scene, written as mp4v."""
    person = cv2.imread(str(IMAGES / "tfex_pose_image1.png"))
    small = cv2.resize(person, (person.shape[1] // 3, person.shape[0] // 3), interpolation=cv2.INTER_AREA)
    background = cv2.GaussianBlur(cv2.resize(cv2.imread(str(IMAGES / "opencv_vtest_frame100.jpg")), (1280, 720)), (0, 0), 8)
    h, w = small.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (1280, 720))
    for i in range(frames):
        frame = background.copy()
        x = 200 + 20 * i
        frame[300:300 + h, x:x + w] = small
        writer.write(frame)
    writer.release()
    return path


def test_smart_crop_beats_full_frame_on_a_small_person(tmp_path):
    clip = _small_person_clip(tmp_path / "small_person.mp4")
    model = Model.open(MOVENET, BackendRequest("cpu"))
    means = {}
    for crop in (True, False):
        estimator = MoveNet(model, smart_crop=crop)
        source = open_source(clip)
        scores = [estimator.estimate(f.image).scores.mean() for f in source.frames()]
        assert len(scores) == 30
        means[crop] = float(np.mean(scores))
    assert means[True] > means[False] + 0.2, means
    print(f"small person: mean keypoint score {means[False]:.2f} on the whole frame, {means[True]:.2f} with smart crop")


def test_crop_carries_between_video_frames_and_resets_on_new_size(movenet):
    image = cv2.imread(str(IMAGES / "tfex_pose_image1.png"))
    movenet.reset()
    movenet.estimate(image)
    first = movenet.crop_region
    assert first is not None and first.width < 2.0
    movenet.estimate(cv2.resize(image, (200, 200)))  # a camera that came back at another size
    assert movenet.crop_region != first


def test_two_estimators_in_one_process_do_not_share_state():
    def estimator():
        return MoveNet(Model.open(MOVENET, BackendRequest("cpu", threads=1)))

    person, other = cv2.imread(str(IMAGES / "tfex_pose_image2.jpeg")), cv2.imread(str(IMAGES / "squat.bmp"))
    alone = estimator()
    expected = [alone.estimate(person).xy for _ in range(3)]  # the crop carries from frame to frame
    a, b = estimator(), estimator()
    for want in expected:
        np.testing.assert_array_equal(a.estimate(person).xy, want)
        b.estimate(other)  # b's crop follows another person in another frame size
    assert b.crop_region != a.crop_region


def test_several_windows_back_to_back_give_each_window_its_own_pose(movenet):
    """estimate_windows (a frame's people, mapped back after the last invoke) is estimate_in per window,
    bit for bit, whatever the order: no window's output leaks into another's."""
    image = cv2.imread(str(IMAGES / "tfex_pose_image1.png"))
    h, w = image.shape[:2]
    windows = [InputWindow.stretch(w, h), InputWindow(0.0, 0.0, w / 2, h / 2), InputWindow(-20.0, 10.0, w * 0.7, h + 30.0)]
    alone = [movenet.estimate_in(image, win) for win in windows]
    together = movenet.estimate_windows(image, windows[::-1])[::-1]
    assert len(movenet.last_invoke_s) == 3 and all(t > 0 for t in movenet.last_invoke_s)
    for a, b in zip(alone, together):
        assert np.array_equal(a.xy, b.xy) and np.array_equal(a.scores, b.scores) and a.frame_size == b.frame_size
    assert not np.array_equal(together[0].xy, together[1].xy)  # the windows do see different things
    assert movenet.estimate_windows(image, []) == []


def test_a_persons_first_video_frame_gets_a_second_pass_in_the_crop_it_gives(movenet):
    """A frame with no crop to start from that finds a torso is run again in its crop (what the still image's
    second pass is); the frames after carry the crop with one invoke, and a frame with nobody costs one."""
    image = cv2.imread(str(IMAGES / "tfex_pose_image3_tree.jpeg"))
    two = movenet.estimate_still(image, passes=2)
    assert len(movenet.last_invoke_s) == 2  # every pass's invoke
    movenet.reset()
    first = movenet.estimate(image)
    assert len(movenet.last_invoke_s) == 2 and np.array_equal(first.xy, two.xy)
    assert not np.array_equal(first.xy, movenet.estimate_still(image, passes=1).xy)  # the pass does move joints
    movenet.reset()
    movenet.estimate(image)
    movenet.estimate(image)
    assert len(movenet.last_invoke_s) == 1  # carried
    empty = np.full_like(image, 90)
    movenet.estimate(empty)  # the person left: one invoke, and the crop is the whole frame again
    assert len(movenet.last_invoke_s) == 1
    movenet.estimate(empty)
    assert len(movenet.last_invoke_s) == 1
    again = movenet.estimate(image)  # back: a first frame again
    assert len(movenet.last_invoke_s) == 2 and np.array_equal(again.xy, two.xy)


def test_without_smart_crop_every_frame_is_one_whole_frame_pass():
    movenet = MoveNet(Model.open(MOVENET, BackendRequest("cpu")), smart_crop=False)
    image = cv2.imread(str(IMAGES / "tfex_pose_image3_tree.jpeg"))
    for _ in range(2):
        movenet.estimate(image)
        assert len(movenet.last_invoke_s) == 1
