"""Pose per person: single-pose MoveNet on up to N tracked people, each in a crop of their own.

The detector and tracker say who is there; this module says whose pose to estimate
(:func:`choose`), where to look for it (:func:`next_region`: a person's first crop
comes from their box, later ones follow the MoveNet smart-crop rule on their own
previous pose) and runs the invokes (:func:`estimate_crops`). The choice is sticky:
someone chosen stays chosen while their track lives, so a bystander walking behind
never takes the pose over.

Work is split as the service splits it: :meth:`People.plan` (after tracking, on the
finishing worker) decides the next frame's crops; the frame loop only runs them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from edgeapp.detect.detection import BBox, Detection
from edgeapp.pose.crop import BODY_EXPANSION_RATIO, CropRegion, determine_crop_region, torso_visible
from edgeapp.pose.keypoint import Pose
from edgeapp.window import InputWindow

MAX_PEOPLE = 6  # MoveNet MultiPose's own limit, and 6 invokes already cost a Pi 4 most of a frame
Select = Literal["target", "largest", "center", "longest"]
SELECT_RULES: tuple[str, ...] = ("target", "largest", "center", "longest")
PERSON = "person"


@dataclass(frozen=True, eq=False)
class PersonPose:
    """One person's pose; ``id`` is their track (None on a still image)."""

    id: int | None
    box: BBox  # the person's detection box, normalised to the frame
    pose: Pose


@dataclass(frozen=True)
class Crop:
    """One planned invoke: whose, and where in the frame (in pixels: worked out when planned, off the
    frame loop)."""

    id: int | None
    box: BBox
    window: InputWindow


def box_region(box: BBox, frame_w: int, frame_h: int) -> CropRegion:
    """A square on the box's centre, its longer side (in pixels) times the tutorial's body margin."""
    cx, cy = box.center
    half = BODY_EXPANSION_RATIO * max(box.width * frame_w, box.height * frame_h) / 2.0
    hx, hy = half / frame_w, half / frame_h
    return CropRegion(cy - hy, cx - hx, cy + hy, cx + hx)


def person_window(box: BBox, frame_w: int, frame_h: int) -> InputWindow:
    """What a person's crop may show, in frame pixels: their box grown by the body margin on each
    axis. The rest of the crop is blacked out, so a neighbour in it is not taken for them."""
    cx, cy = box.center
    hw, hh = BODY_EXPANSION_RATIO * box.width / 2.0, BODY_EXPANSION_RATIO * box.height / 2.0
    return InputWindow((cx - hw) * frame_w, (cy - hh) * frame_h, (cx + hw) * frame_w, (cy + hh) * frame_h)


def next_region(previous: Pose | None, box: BBox, frame_w: int, frame_h: int) -> CropRegion:
    """The smart crop from this person's previous pose when its torso was seen, else from their box
    (the single-pose rule would fall back to the whole frame: with several people, that is
    whoever is most central)."""
    if previous is not None and torso_visible(previous.scores):
        region = determine_crop_region(previous.xy, previous.scores, frame_h, frame_w)
        if region.x_max - region.x_min < 1.0 or region.y_max - region.y_min < 1.0:
            return region
    return box_region(box, frame_w, frame_h)


def rank(people: Sequence[Detection], rule: str, target: int | None = None) -> list[Detection]:
    """Best first by ``rule``: the rig's target first (then the largest), the largest box, the box
    nearest the centre, or the longest tracked (the lowest id: ids are given in order)."""
    def key(d: Detection):
        cx, cy = d.box.center
        if rule == "center":
            return math.hypot(cx - 0.5, cy - 0.5)
        if rule == "longest":
            return d.id if d.id is not None else math.inf
        first = 0 if rule == "target" and target is not None and d.id == target else 1
        return first, -d.box.area
    return sorted(people, key=key)


def choose(seen: Sequence[Detection], alive: dict[int, BBox], current: Sequence[int], n: int, rule: str,
           target: int | None = None) -> list[int]:
    """Ids of up to ``n`` people to follow: those followed already while their track lives (sticky,
    even through a missed frame), then the best of the rest seen in this frame. With ``target``
    and one person, the rig's target wins: it is sticky on its own."""
    if rule == "target" and n == 1 and target is not None and target in alive:
        return [target]
    kept = [i for i in current if i in alive][:n]
    fresh = [d.id for d in rank([d for d in seen if d.id not in kept], rule, target) if d.id is not None]
    return kept + fresh[: n - len(kept)]


def estimate_crops(movenet, frame: np.ndarray, crops: Sequence[Crop]) -> list[PersonPose]:
    """One invoke per crop, back to back, keypoints mapped back to the frame."""
    # No blacking out around the box here: on video the box is the last frame's, and a person who moved
    # would be cut (it cost the street clip's pedestrians a third of their keypoint score).
    poses = movenet.estimate_windows(frame, [c.window for c in crops])
    return [PersonPose(c.id, c.box, pose) for c, pose in zip(crops, poses)]


def still_people(movenet, frame: np.ndarray, detections: Sequence[Detection], n: int, rule: str = "largest",
                 passes: int = 3) -> list[PersonPose]:
    """People on a still image: the best ``n`` person boxes, each estimated over ``passes`` crops as the
    tutorial refines a still (first from the box, then from the pose), keypoint by keypoint the median
    of the passes: on a still the crops do not converge, and a wrist moves by 15 px from one to the next."""
    h, w = frame.shape[:2]
    out = []
    for d in rank([d for d in detections if d.label == PERSON], rule)[:n]:
        region, keep = box_region(d.box, w, h), person_window(d.box, w, h)
        poses = []
        for _ in range(passes):
            poses.append(movenet.estimate_in(frame, region.window(w, h), keep))
            region = next_region(poses[-1], d.box, w, h)
        out.append(PersonPose(d.id, d.box, median_pose(poses)))
    return out


def median_pose(poses: Sequence[Pose]) -> Pose:
    """Keypoint by keypoint, the median position and score of several estimates of one pose."""
    if len(poses) == 1:
        return poses[0]
    return Pose(xy=np.median(np.stack([p.xy for p in poses]), axis=0),
                scores=np.median(np.stack([p.scores for p in poses]), axis=0), frame_size=poses[0].frame_size)


class People:
    """Whose poses to estimate from frame to frame, and where. Not thread-safe: :meth:`plan` and
    :meth:`observe` run on one thread; another may read :attr:`crops` (replaced whole)."""

    def __init__(self, n: int, rule: str = "largest", min_score: float = 0.0):
        self.n = n
        self.rule = rule
        self.min_score = min_score
        self.crops: tuple[Crop, ...] = ()  # the next frame's invokes
        self._chosen: list[int] = []
        self._poses: dict[int, Pose] = {}

    @property
    def chosen(self) -> list[int]:
        return list(self._chosen)

    def observe(self, people: Sequence[PersonPose]) -> list[PersonPose]:
        """This frame's poses: remembered for the next crops; those scoring under ``min_score``
        (nobody there) are left out of the answer."""
        for p in people:
            if p.id is not None:
                self._poses[p.id] = p.pose
        return [p for p in people if p.pose.score >= self.min_score]

    def plan(self, seen: Sequence[Detection], alive: dict[int, BBox], frame_w: int, frame_h: int,
             target: int | None = None) -> list[int]:
        """After tracking a frame: choose the people (``seen``: this frame's tracked detections,
        ``alive``: live track id -> last box) and their crops for the next frame. Returns the ids
        that stopped being followed (their track ended, or the choice moved on)."""
        people = [d for d in seen if d.label == PERSON and d.id is not None]
        chosen = choose(people, alive, self._chosen, self.n, self.rule, target)
        dropped = [i for i in self._chosen if i not in chosen]
        boxes = {**alive, **{d.id: d.box for d in people}}  # this frame's box, else the track's last
        self.crops = tuple(Crop(i, boxes[i], next_region(self._poses.get(i), boxes[i], frame_w, frame_h)
                                .window(frame_w, frame_h)) for i in chosen)
        self._chosen = chosen
        self._poses = {i: p for i, p in self._poses.items() if i in chosen}
        return dropped
