"""Poses that are none of the classes: mined from footage and photos with no yoga in them.

The open-set answer ("other") is learned from these. Each source gives poses the way
the device would see them:

* a **video** gives every frame in video mode (the crop carried from frame to frame,
  as ``infer classify`` and the service run it), and every ``still_every``-th frame in
  still-image mode together with its variants;
* a **photo** gives itself in still-image mode with its variants.

Variants are made from the same pixels, no new data: the mirror image, and four
60% crops (top, bottom, left, right) and a 70% centre crop, which cut people into
the partial bodies a camera sees at the edge of the frame or too close to it.

The rows are a keypoint table with one class, ``other``, written in the tutorial CSV
layout (:mod:`edgeapp.classify.dataset`) so ``classifier train --negatives`` reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from edgeapp.camera import open_source
from edgeapp.classify.contract import NUM_KEYPOINTS, OTHER
from edgeapp.classify.dataset import KeypointTable
from edgeapp.classify.photo_variants import mirror
from edgeapp.pose.keypoint import Pose
from edgeapp.pose.movenet import STILL_IMAGE_PASSES, MoveNet

STILL_EVERY = 5
# (x0, y0, x1, y1) as fractions of the frame
CROPS: dict[str, tuple[float, float, float, float]] = {
    "top": (0.0, 0.0, 1.0, 0.6), "bottom": (0.0, 0.4, 1.0, 1.0),
    "left": (0.0, 0.0, 0.6, 1.0), "right": (0.4, 0.0, 1.0, 1.0), "centre": (0.15, 0.15, 0.85, 0.85),
}


def variants(image: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """The image, its mirror and its crops, each named."""
    yield "full", image
    yield "mirror", mirror(image)
    h, w = image.shape[:2]
    for name, (x0, y0, x1, y1) in CROPS.items():
        yield name, np.ascontiguousarray(image[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)])


def mine(sources: list[Path], estimator: MoveNet, still_every: int = STILL_EVERY, passes: int = STILL_IMAGE_PASSES,
         progress: Callable[[str], None] | None = None) -> KeypointTable:
    names: list[str] = []
    poses: list[Pose] = []
    for path in sources:
        source = open_source(str(path))
        try:
            for frame in source.frames():
                tag = f"{Path(frame.source).name}#{frame.index}"
                if progress:
                    progress(tag)
                if not source.still:
                    names.append(f"{tag}/video")
                    poses.append(estimator.estimate(frame.image))
                    if frame.index % still_every:
                        continue
                for name, image in variants(frame.image):
                    names.append(f"{tag}/{name}")
                    poses.append(estimator.estimate_still(image, passes))
        finally:
            source.close()
    return _table(names, poses)


def _table(names: list[str], poses: list[Pose]) -> KeypointTable:
    xy = np.empty((len(poses), NUM_KEYPOINTS, 2))
    scores = np.empty((len(poses), NUM_KEYPOINTS))
    for i, pose in enumerate(poses):
        xy[i] = pose.pixels
        scores[i] = pose.scores
    return KeypointTable(tuple(names), xy, scores, np.zeros(len(poses), dtype=np.int64), (OTHER,))
