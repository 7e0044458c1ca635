"""Keypoints from a folder of labelled photos, for training: ``IMAGES_DIR/<class>/*.jpg`` (or any image type
:data:`edgeapp.camera.files.IMAGE_SUFFIXES` names, as ``infer`` reads).

Each image goes through the same pose pipeline the service runs (MoveNet, still-image
smart cropping: a reset then 3 passes, as the tutorial's ``detect()``), and its pose
is written in the tutorial CSV layout (:mod:`edgeapp.classify.dataset`: x then y in
truncated pixels, then the score). Classes are the sub-folder names, sorted, so
``class_no`` matches the tutorial's numbering. Images without a confident pose
(a keypoint under the classifier threshold) are skipped and listed, exactly the
images the runtime would refuse to classify.

With ``variants``, each photo gives instead one row per pixel-level variant
(:mod:`edgeapp.classify.photo_variants`), named ``<class>/<photo>#<variant>``: extra
training rows for ``classifier train --photo-variants``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgeapp.camera.files import IMAGE_SUFFIXES, read_image
from edgeapp.classify.classifier import DEFAULT_THRESHOLD
from edgeapp.classify.contract import NUM_KEYPOINTS
from edgeapp.classify.dataset import DatasetError, KeypointTable
from edgeapp.classify.photo_variants import VARIANTS, named_variants
from edgeapp.errors import SourceError
from edgeapp.pose.movenet import STILL_IMAGE_PASSES, MoveNet

log = logging.getLogger(__name__)

@dataclass
class Extraction:
    table: KeypointTable
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (class/file, reason)


def list_images(images_dir: Path) -> tuple[tuple[str, ...], list[tuple[int, Path]]]:
    """The classes (sorted sub-folder names) and every image as (class_no, path), in a stable order."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DatasetError(f"{images_dir} is not a folder")
    classes = tuple(sorted(p.name for p in images_dir.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not classes:
        raise DatasetError(f"{images_dir} has no class folders: expected {images_dir}/<class>/*.jpg")
    items = []
    for no, name in enumerate(classes):
        files = sorted(p for p in (images_dir / name).iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            log.warning("class folder %s holds no images", images_dir / name)
        items += [(no, p) for p in files]
    if not items:
        raise DatasetError(f"no {'/'.join(sorted(IMAGE_SUFFIXES))} images under {images_dir}/<class>/")
    return classes, items


def extract(images_dir: Path, estimator: MoveNet, threshold: float = DEFAULT_THRESHOLD,
            passes: int = STILL_IMAGE_PASSES, progress: Callable[[int, int, str], None] | None = None,
            variants: bool = False) -> Extraction:
    classes, items = list_images(images_dir)
    looks = named_variants if variants else lambda name, image: ((name, image),)
    files: list[str] = []
    rows = len(items) * (len(VARIANTS) if variants else 1)
    xy = np.empty((rows, NUM_KEYPOINTS, 2), dtype=np.float64)
    scores = np.empty((rows, NUM_KEYPOINTS), dtype=np.float64)
    class_no = np.empty(rows, dtype=np.int64)
    skipped: list[tuple[str, str]] = []
    n = 0
    for i, (no, path) in enumerate(items):
        name = f"{classes[no]}/{path.name}"
        if progress:
            progress(i + 1, len(items), name)
        try:
            image = read_image(path)
        except SourceError as exc:
            skipped.append((name, str(exc)))
            continue
        for row, look in looks(name, image):
            pose = estimator.estimate_still(look, passes)
            if pose.min_score < threshold:
                skipped.append((row, f"no confident pose (min keypoint score {pose.min_score:.3f} < {threshold:g})"))
                continue
            files.append(row)
            # The same truncated pixels the runtime feeds (contract.pose_features): training sees what inference sees.
            xy[n] = pose.pixels
            scores[n] = pose.scores
            class_no[n] = no
            n += 1
    table = KeypointTable(tuple(files), xy[:n], scores[:n], class_no[:n], classes)
    if not n:  # nothing to train or evaluate on: say why instead of an empty table downstream
        reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped[:3])
        raise DatasetError(f"no usable photo under {images_dir}: all {len(skipped)} were skipped "
                           f"({reasons}{'; ...' if len(skipped) > 3 else ''})")
    return Extraction(table, skipped)
