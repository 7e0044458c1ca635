"""Pose per person: choosing people, their crops, and ``edgeapp infer pose --people N`` on the TF
MultiPose sample's own test, the basketball image, the street clip and a bystander clip."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from support.people_clip import bystander_clip
from support.shared import COCO_LABELS, DATA, IMAGES, MOVENET, SSD, VIDEO
from edgeapp.camera import open_source
from edgeapp.detect import DetectConfig, Detector, Labels
from edgeapp.detect.detection import BBox, Detection
from edgeapp.pose import MoveNet
from edgeapp.pose.people import People, box_region, choose, estimate_crops, rank
from edgeapp.runtime.backend import BackendRequest
from edgeapp.runtime.model import Model


def edgeapp(*args):
    return subprocess.run([sys.executable, "-m", "edgeapp", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def frames_of(r) -> list[dict]:
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def person(i, x, w=0.1, h=0.4):
    return Detection("person", 0, 0.8, BBox.from_center(x, 0.5, w, h), id=i)


def test_choice_is_sticky_and_follows_the_rule():
    a, b, c = person(1, 0.2, w=0.1), person(2, 0.5, w=0.2), person(3, 0.8, w=0.3)
    alive = {d.id: d.box for d in (a, b, c)}
    assert choose([a, b, c], alive, [], 1, "largest") == [3]
    assert choose([a, b, c], alive, [], 1, "center") == [2]
    assert choose([a, b, c], alive, [], 1, "longest") == [1]
    assert choose([a, b, c], alive, [], 1, "target", target=1) == [1]
    assert choose([a, b, c], alive, [], 1, "target") == [3]  # no rig target: the largest
    assert choose([a, b, c], alive, [1], 1, "largest") == [1]  # sticky while the track lives...
    assert choose([b, c], alive, [1], 1, "largest") == [1]  # ... even when missed in this frame
    assert choose([b, c], {2: b.box, 3: c.box}, [1], 1, "largest") == [3]  # ended: chosen afresh
    assert choose([a, b, c], alive, [2], 2, "largest") == [2, 3]
    assert [d.id for d in rank([a, b, c], "center")][0] == 2 and [d.id for d in rank([c, a], "longest")] == [1, 3]


def test_the_first_crop_is_a_square_around_the_box():
    r = box_region(BBox(0.4, 0.2, 0.6, 0.8), 640, 480)  # 128 x 288 px
    side_px = 1.2 * 288
    assert (r.x_max - r.x_min) * 640 == pytest.approx(side_px) and (r.y_max - r.y_min) * 480 == pytest.approx(side_px)
    assert ((r.x_min + r.x_max) / 2, (r.y_min + r.y_max) / 2) == pytest.approx((0.5, 0.5))


def test_tf_multipose_sample_through_our_cli(tmp_path):
    """TF's movenet_multipose_test: image1 | image2 side by side, people sorted by box x; TF allows
    41 px per keypoint for MultiPose, we hold single-pose MoveNet's 21 px."""
    left, right = cv2.imread(str(IMAGES / "tfex_pose_image1.png")), cv2.imread(str(IMAGES / "tfex_pose_image2.jpeg"))
    both = cv2.hconcat([left, right])
    cv2.imwrite(str(tmp_path / "two.png"), both)
    (frame,) = frames_of(edgeapp("infer", "pose", tmp_path / "two.png", "--people", "2", "--model", MOVENET,
                                 "--detect-model", SSD, "--detect-labels", COCO_LABELS, "--backend", "cpu"))
    h, w = both.shape[:2]
    with open(DATA / "reference" / "tfex_pose_landmark_truth.csv") as f:
        truth = [np.array(row, dtype=float).reshape(17, 2) for row in list(csv.reader(f))[1:]]
    truth[1][:, 0] += left.shape[1]
    people = sorted(frame["people"], key=lambda p: p["box"][0])
    assert len(people) == 2 and all(p["id"] is None for p in people)  # a still: no tracks
    for p, t in zip(people, truth):
        xy = np.array([[k["x"] * w, k["y"] * h] for k in p["keypoints"]])
        assert np.abs(xy - t).max() <= 21, np.abs(xy - t).max(axis=1)
        assert [k["name"] for k in p["keypoints"]][:2] == ["nose", "left_eye"]
        assert set(p) == {"id", "score", "box", "keypoints"}


def test_basketball_has_two_people():
    (frame,) = frames_of(edgeapp("infer", "pose", IMAGES / "opencv_basketball1.png", "--people", "3",
                                 "--model", MOVENET, "--detect-model", SSD, "--detect-labels", COCO_LABELS,
                                 "--backend", "cpu"))
    people = frame["people"]
    assert len(people) == 2 and all(p["score"] > 0.4 for p in people)
    assert all(0 <= k["x"] <= 1 and 0 <= k["y"] <= 1 for p in people for k in p["keypoints"])
    a, b = sorted(people, key=lambda p: p["box"][0])
    assert a["box"][2] < b["box"][0] + 0.05  # two different people, side by side


def short_clip(tmp_path, frames: int):
    cap = cv2.VideoCapture(str(VIDEO / "opencv_vtest_30s_h264.mp4"))
    out = tmp_path / "street.avi"
    writer = None
    for _ in range(frames):
        ok, image = cap.read()
        assert ok
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, image.shape[1::-1])
        writer.write(image)
    writer.release()
    cap.release()
    return out


def test_street_clip_three_people_with_stable_ids(tmp_path):
    frames = frames_of(edgeapp("infer", "pose", short_clip(tmp_path, 40), "--people", "3", "--model", MOVENET,
                               "--detect-model", SSD, "--detect-labels", COCO_LABELS, "--backend", "cpu"))
    assert len(frames) == 40
    ids = [tuple(p["id"] for p in f["people"]) for f in frames[10:]]  # tracks are confirmed by then
    assert all(len(i) == 3 and None not in i for i in ids)
    assert sum(set(a) != set(b) for a, b in zip(ids, ids[1:])) <= 1  # at most one person replaced in 3 s


@pytest.fixture(scope="module")
def models():
    cpu = BackendRequest("cpu", threads=2)
    detector = Detector(Model.open(SSD, cpu), Labels.from_file(COCO_LABELS), DetectConfig(labels_allow=("person",)))
    return MoveNet(Model.open(MOVENET, cpu)), detector


@pytest.mark.parametrize("rule", ["largest", "target"])
def test_a_bystander_walking_behind_never_takes_the_pose(tmp_path, models, rule):
    movenet, detector = models
    source = open_source(bystander_clip(tmp_path / "bystander.avi"))
    tracker, people = detector.new_tracker(), People(1, rule)
    chosen, seen_bystander = [], 0
    try:
        for frame in source.frames():
            update = tracker.update(detector.detect(frame.image, floor=detector.tracking_floor), frame.index,
                                    frame.time)
            w, h = frame.size
            seen_bystander += any(d.id is not None and abs(d.center[0] - 0.5) > 0.15 for d in update.detections)
            people.plan(update.detections, {t.id: t.box for t in update.tracks if t.confirmed}, w, h,
                        update.target.id if update.target else None)
            for p in people.observe(estimate_crops(movenet, frame.image, people.crops)):
                chosen.append((p.id, p.box.center[0], p.pose.box))
    finally:
        source.close()
    assert seen_bystander >= 5, "the clip must show the bystander as a tracked person"
    assert len(chosen) >= 30 and len({i for i, _, _ in chosen}) == 1  # one person, from start to end
    assert all(abs(cx - 0.5) < 0.05 for _, cx, _ in chosen)  # and it is the user, in the middle
    assert all(0.35 < (x0 + x1) / 2 < 0.65 for _, _, (x0, _, x1, _) in chosen)  # the skeleton too


@pytest.mark.parametrize("n", ["0", "7"])
def test_people_out_of_range_is_a_usage_error(n):
    r = edgeapp("infer", "pose", IMAGES / "squat.bmp", "--people", n, "--backend", "cpu")
    assert r.returncode == 2 and "--people must be from 1 to 6" in r.stderr and "Traceback" not in r.stderr


def test_the_people_cost_counts_only_what_is_not_an_invoke():
    """bench pipeline --people 1,3: a person's overhead is the frame time they add beyond all invokes, so a
    detector invoke that ran faster on the 3-people frames is not taken for a cheap person; frames whose
    interval holds a switch of the count are left out, and a frame the host slowed does not count."""
    from edgeapp.bench.pipeline import FrameCost, people_cost

    def frame(cap, pose_n, other_ms, detect_ms, steady=True):
        pose_s = pose_n * 0.008
        return FrameCost(cap=cap, steady=steady, interval_s=pose_s + (detect_ms + other_ms) / 1000,
                         pose_s=pose_s, other_invokes_s=detect_ms / 1000, pose_invokes=pose_n)

    frames = [frame(1, 1, 2.0, 16.0), frame(3, 3, 2.8, 12.0),  # two more people, 0.4 ms each beyond their invokes
              frame(1, 1, 2.0, 16.0), frame(3, 3, 2.8, 12.0),  # a faster detector invoke is not a cheaper person
              frame(1, 1, 9.0, 16.0), frame(3, 3, 30.0, 12.0),  # the host took the CPU: medians pass over them
              frame(3, 1, 50.0, 16.0, steady=False)]  # a switch in its interval: left out
    c = people_cost(frames)
    assert (c["from_people"], c["to_people"], c["persons_added"]) == (1, 3, 2)
    assert c["per_count"][1]["frames"] == 3 and c["per_count"][3]["frames"] == 3
    assert c["pose_invoke_ms_added"] == pytest.approx(16.0) and c["other_ms_added"] == pytest.approx(0.8)
    assert c["pct_over_invokes"] == pytest.approx(5.0)
    assert c["frame_ms_added"] == pytest.approx(16.0 - 4.0 + (2.8 + 2.8 + 30.0 - 2.0 - 2.0 - 9.0) / 3, abs=0.01)


def test_the_people_cost_needs_two_counts():
    from edgeapp.bench.pipeline import FrameCost, people_cost

    with pytest.raises(ValueError, match="fewer than two people counts"):
        people_cost([FrameCost(cap=1, steady=True, interval_s=0.03, pose_s=0.008, other_invokes_s=0.016,
                               pose_invokes=1)])
