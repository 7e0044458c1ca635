"""Training-time variants of keypoint rows: what the same pose looks like to the device
from another person, another camera or with a joint missed. Pure numpy.

* **mirror** with the left/right joint swap (a warrior facing left is a warrior);
* **scale** about the hip midpoint (nearer or farther; the embedding is scale-free up to
  the truncation to whole pixels, so this mostly teaches that truncation);
* **rotation** by a few degrees about the hip midpoint (a tilted camera);
* **jitter**: Gaussian noise proportional to the torso length (MoveNet's own scatter);
* **joint dropout**: a joint's score set to 0, as MoveNet gives an occluded joint, so
  the masked embedding (train.py) learns to do without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeapp.errors import ClassifyError

from edgeapp.pose.keypoint import KEYPOINT_NAMES

# index of each joint's mirror twin: left_x <-> right_x
MIRROR = np.array([KEYPOINT_NAMES.index(n.replace("left", "#").replace("right", "left").replace("#", "right"))
                   for n in KEYPOINT_NAMES])
_HIPS = (11, 12)
_SHOULDERS = (5, 6)


@dataclass(frozen=True)
class Augmentation:
    copies: int = 4  # variants per row, besides the row itself
    scale: float = 0.15  # uniform in [1 - scale, 1 + scale]
    rotation_deg: float = 10.0  # uniform in [-rotation_deg, rotation_deg]
    jitter: float = 0.02  # sigma as a share of the torso length
    dropout: float = 0.1  # chance that each joint is dropped

    def __post_init__(self) -> None:
        if self.copies < 0 or not 0 <= self.dropout < 1 or self.scale < 0 or self.jitter < 0:
            raise ClassifyError("copies, scale and jitter must be >= 0, dropout within [0, 1)")


def mirrored(xy: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[N, 17, 2]``, ``[N, 17]``: each pose mirrored about its hip midpoint, left and right joints swapped."""
    centre = xy[:, list(_HIPS)].mean(axis=1, keepdims=True)
    out = xy[:, MIRROR].copy()
    out[..., 0] = 2 * centre[..., 0] - out[..., 0]
    return out, scores[:, MIRROR].copy()


def augment(xy: np.ndarray, scores: np.ndarray, labels: np.ndarray, aug: Augmentation,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows plus ``aug.copies`` random variants of each (half of them mirrored). Pixels stay floats;
    the caller truncates them like the extractor does."""
    if aug.copies == 0 or len(xy) == 0:
        return xy, scores, labels
    rep_xy = np.repeat(xy, aug.copies, axis=0)
    rep_s = np.repeat(scores, aug.copies, axis=0)
    flip = rng.random(len(rep_xy)) < 0.5
    rep_xy[flip], rep_s[flip] = mirrored(rep_xy[flip], rep_s[flip])
    centre = rep_xy[:, list(_HIPS)].mean(axis=1, keepdims=True)
    torso = np.linalg.norm(rep_xy[:, list(_SHOULDERS)].mean(axis=1) - centre[:, 0], axis=1)
    angle = np.deg2rad(rng.uniform(-aug.rotation_deg, aug.rotation_deg, len(rep_xy)))
    scale = rng.uniform(1 - aug.scale, 1 + aug.scale, len(rep_xy))
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    rel = rep_xy - centre
    rot = np.stack([c[:, None] * rel[..., 0] - s[:, None] * rel[..., 1],
                    s[:, None] * rel[..., 0] + c[:, None] * rel[..., 1]], axis=-1)
    noise = rng.normal(0.0, 1.0, rot.shape) * (aug.jitter * torso)[:, None, None]
    rep_xy = centre + rot + noise
    drop = rng.random(rep_s.shape) < aug.dropout
    rep_s = np.where(drop, 0.0, rep_s)
    # truncated to whole pixels like the extractor's rows
    return (np.concatenate([xy, np.trunc(rep_xy)]), np.concatenate([scores, rep_s]),
            np.concatenate([labels, np.repeat(labels, aug.copies)]))
