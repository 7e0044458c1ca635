"""Pixel-level variants of a training photo, each to be run through MoveNet as the device would see it.

Keypoint augmentation (:mod:`edgeapp.classify.augment`) moves joints MoveNet has already placed; it
cannot show the classifier how MoveNet itself answers a slightly different photo of the same pose. A
re-compressed JPEG, other light, a camera tilted a few degrees or a person a little smaller in the frame
move MoveNet's smart crop and its keypoints in ways no Gaussian jitter imitates: on the training photos,
re-saving as JPEG (quality 90) changed the shipped model's answer for 4.6% of the 500 checked. These variants are
made from the same pixels (no new data), and their poses are training rows of the photo's class
(``classifier extract --variants``; ``classifier train --photo-variants``).

The set is fixed by a rule, not tuned: each is a change of the kind a camera or a re-save makes, small
enough that a person would still call the pose what it was (7 degrees of tilt, 15% smaller, JPEG
quality 70, about +-10% light), plus the mirror image. Only one set was tried; its effect, measured by
leave-one-person-out, is in docs/classification.md.
"""

from __future__ import annotations

from typing import Callable, Iterator

import cv2
import numpy as np

VARIANT_MARK = "#"  # a variant's row is named "<class>/<photo>#<variant>"


def mirror(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else image


def _tilt(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mirror": mirror,
    "jpeg70": lambda image: _jpeg(image, 70),
    "brighter": lambda image: cv2.convertScaleAbs(image, alpha=1.1, beta=10),
    "darker": lambda image: cv2.convertScaleAbs(image, alpha=0.85, beta=-5),
    "tilt+7": lambda image: _tilt(image, 7.0),
    "tilt-7": lambda image: _tilt(image, -7.0),
    "smaller": lambda image: cv2.resize(image, None, fx=0.85, fy=0.85, interpolation=cv2.INTER_AREA),
}


def named_variants(name: str, image: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """Each variant of a photo with its row name, ``<name>#<variant>``."""
    for variant, make in VARIANTS.items():
        yield f"{name}{VARIANT_MARK}{variant}", make(image)


def photo_of(row_name: str) -> str:
    """The photo a row was made from: ``chair/girl1_chair070.jpg#mirror`` -> ``chair/girl1_chair070.jpg``."""
    return row_name.split(VARIANT_MARK, 1)[0]


def variant_of(row_name: str) -> str:
    """The variant a row is: ``chair/girl1_chair070.jpg#mirror`` -> ``mirror``; "" for the photo itself."""
    return row_name.partition(VARIANT_MARK)[2]
