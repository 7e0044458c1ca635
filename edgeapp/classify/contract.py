"""A pose classifier's input contract, and the feature vector built from a pose to meet it.

A tutorial-style classifier takes 51 float32 = 17 keypoints (MoveNet/COCO order) x
(first coordinate, second coordinate, score). Which coordinate comes first, and in
which units, is invisible in the ``.tflite`` file, and getting it wrong does not fail:
it quietly gives a transposed pose and near-random labels (tensorflow#55521). So every
classifier has an explicit contract, read from a sidecar next to the model::

    yoga_classifier.tflite
    yoga_classifier.contract.json   {"schema": 1, "order": "yx", "units": "pixels",
                                     "labels": ["chair", "cobra", "dog", "tree", "warrior"]}

``order``  ``yx``: (y, x, score) per keypoint, what the stock yoga model and the official
           RPi/Android samples feed. ``xy``: (x, y, score), the order of the notebook's CSV
           columns (a model trained straight from those columns expects it).
``units``  ``pixels``: frame pixels, truncated to integers like the TF sample's
           ``int(x * W)``. ``normalized``: 0..1 of the frame width/height.
``labels`` the model's outputs, in order (optional when a labels file sits beside it).
``other_label``      optional: the output that means "none of these" (a class trained on
                     negatives); winning with it gives the status ``other`` and no label.
``other_threshold``  optional: ``other`` when the "none of these" output is above this
                     (without it: when that output wins outright).
``min_probability``  optional open-set threshold: a winning class under this probability
                     is ``other`` too. Chosen on held-out data (docs/classification.md);
                     ``calibration`` (free-form) records how.

A model without a sidecar gets the stock yoga model's contract (``yx``, ``pixels``).
Models made by ``edgeapp classifier train`` always ship one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from edgeapp.errors import ModelError
from edgeapp.pose.keypoint import Pose

NUM_KEYPOINTS = 17
FEATURES = NUM_KEYPOINTS * 3
ORDERS: tuple[str, ...] = ("yx", "xy")
UNITS: tuple[str, ...] = ("pixels", "normalized")
CONTRACT_SCHEMA = 1
CONTRACT_SUFFIX = ".contract.json"
# The class the negatives are trained as, and the answer's status when none of the classes is meant.
OTHER = "other"

Order = Literal["yx", "xy"]
Units = Literal["pixels", "normalized"]


@dataclass(frozen=True)
class ClassifierContract:
    order: Order = "yx"
    units: Units = "pixels"
    labels: tuple[str, ...] | None = None  # None: take them from the labels file
    other_label: str | None = None  # the output meaning "none of these"
    min_probability: float = 0.0  # open-set threshold on the winning probability
    other_threshold: float | None = None  # "other" when the other_label output is above this (None: when it wins)
    calibration: dict | None = None  # how min_probability was chosen (kept for the record)

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_probability <= 1.0:
            raise ModelError(f"min_probability must be within 0..1, got {self.min_probability!r}")
        if self.order not in ORDERS:
            raise ModelError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.units not in UNITS:
            raise ModelError(f"units must be one of {', '.join(UNITS)}, got {self.units!r}")

    def with_labels(self, labels: tuple[str, ...]) -> ClassifierContract:
        return replace(self, labels=tuple(labels))

    def to_dict(self) -> dict:
        d: dict = {"schema": CONTRACT_SCHEMA, "order": self.order, "units": self.units}
        if self.labels is not None:
            d["labels"] = list(self.labels)
        if self.other_label is not None:
            d["other_label"] = self.other_label
        if self.min_probability:
            d["min_probability"] = round(self.min_probability, 6)
        if self.other_threshold is not None:
            d["other_threshold"] = round(self.other_threshold, 6)
        if self.calibration:
            d["calibration"] = self.calibration
        return d


# The stock yoga model, as the official samples feed it (peers.md 2.4; MANIFEST: 100% on
# test_data.csv in this order, 0.5% with x and y swapped). It has no "other" output; its
# open-set threshold is the calibration shipped for it (docs/classification.md).
STOCK_MIN_PROBABILITY = 0.56
STOCK_CONTRACT = ClassifierContract(
    order="yx", units="pixels", min_probability=STOCK_MIN_PROBABILITY,
    calibration={"method": "0.5% quantile (0.5627, rounded down) of the winning probability on the Lightning INT8 "
                           "keypoints of the 1000 yoga_poses_train photos the body guard accepts; the stock model "
                           "cannot be retrained, so no person could be held out (docs/classification.md)"})


def sidecar_path(model_path: Path) -> Path:
    """``dir/name.tflite`` -> ``dir/name.contract.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + CONTRACT_SUFFIX)


def load_contract(path: Path) -> ClassifierContract:
    """Read a sidecar; any bad or unknown value is an error naming the file and the value."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: an editor's byte-order mark is no JSON
    except OSError as exc:
        raise ModelError(f"cannot read classifier contract {path}: {exc}") from exc
    except ValueError as exc:
        raise ModelError(f"classifier contract {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"classifier contract {path}: expected a JSON object, got {type(data).__name__}")
    unknown = set(data) - {"schema", "order", "units", "labels", "note", "other_label", "min_probability",
                           "other_threshold", "calibration"}
    if unknown:
        raise ModelError(f"classifier contract {path}: unknown keys {sorted(unknown)}")
    schema = data.get("schema", CONTRACT_SCHEMA)
    if schema != CONTRACT_SCHEMA:
        raise ModelError(f"classifier contract {path}: schema {schema!r} is not supported (expected {CONTRACT_SCHEMA})")
    for key, allowed in (("order", ORDERS), ("units", UNITS)):
        if key not in data:
            # No default here: a sidecar exists to pin these, a missing one is a mistake.
            raise ModelError(f"classifier contract {path}: {key!r} is missing (one of {', '.join(allowed)})")
        if data[key] not in allowed:
            raise ModelError(f"classifier contract {path}: {key} must be one of {', '.join(allowed)}, got {data[key]!r}")
    labels = data.get("labels")
    if labels is not None:
        labels = _check_labels(labels, str(path))
    other = data.get("other_label")
    if other is not None and (not isinstance(other, str) or (labels is not None and other not in labels)):
        raise ModelError(f"classifier contract {path}: other_label {other!r} is not one of the labels")
    threshold = data.get("min_probability", 0.0)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ModelError(f"classifier contract {path}: min_probability must be a number within 0..1, got {threshold!r}")
    other_threshold = data.get("other_threshold")
    if other_threshold is not None and (isinstance(other_threshold, bool) or not isinstance(other_threshold, (int, float))
                                        or not 0.0 <= other_threshold <= 1.0 or other is None):
        raise ModelError(f"classifier contract {path}: other_threshold must be a number within 0..1 and needs "
                         f"other_label, got {other_threshold!r}")
    calibration = data.get("calibration")
    if calibration is not None and not isinstance(calibration, dict):
        raise ModelError(f"classifier contract {path}: calibration must be an object")
    return ClassifierContract(order=data["order"], units=data["units"], labels=labels, other_label=other,
                              min_probability=float(threshold), calibration=calibration,
                              other_threshold=None if other_threshold is None else float(other_threshold))


def write_contract(path: Path, contract: ClassifierContract, note: str = "") -> None:
    d = contract.to_dict()
    if note:
        d["note"] = note
    Path(path).write_text(json.dumps(d, indent=2) + "\n")


def read_labels(path: Path) -> tuple[str, ...]:
    """One label per line, in output order (the tutorial's ``labels.txt``); blank lines at the end are ignored."""
    path = Path(path)
    try:
        # utf-8-sig: a byte-order mark (Windows editors) would otherwise become part of the first label
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ModelError(f"cannot read labels file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ModelError(f"labels file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    while lines and not lines[-1].strip():
        lines.pop()
    return _check_labels([line.strip() for line in lines], str(path))


def write_labels(path: Path, labels: tuple[str, ...]) -> None:
    Path(path).write_text("\n".join(labels) + "\n")


def _check_labels(labels, where: str) -> tuple[str, ...]:
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{where}: labels must be a list of strings")
    if not labels:
        raise ModelError(f"{where}: no labels")
    empty = [i + 1 for i, x in enumerate(labels) if not x.strip()]
    if empty:
        raise ModelError(f"{where}: empty label at line/position {empty[0]}")
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ModelError(f"{where}: duplicate labels {dupes}")
    return tuple(labels)


def encode_keypoints(xy: np.ndarray, scores: np.ndarray, order: Order, out: np.ndarray | None = None) -> np.ndarray:
    """The 51-value input: ``xy`` is ``[17, 2]`` as (x, y) in the contract's units, ``scores`` ``[17]``.

    The model's order comes from one place, :func:`model_xy`: the runtime (:class:`FeatureWriter`),
    the CSV evaluation and the trainer all use it, so they cannot disagree.
    """
    if out is None:
        out = np.empty(FEATURES, dtype=np.float32)
    elif not out.flags.c_contiguous:
        raise ValueError("encode_keypoints writes into a contiguous buffer of 51 values")
    rows = out.reshape(NUM_KEYPOINTS, 3)  # a view: (first, second, score) per keypoint
    model_xy(rows, order)[...] = xy
    rows[:, 2] = scores
    return out


def model_xy(rows: np.ndarray, order: Order) -> np.ndarray:
    """The ``[17, 2]`` view of the model's ``[17, 3]`` input rows that takes (x, y) in the contract's order."""
    return rows[:, 1::-1] if order == "yx" else rows[:, :2]


def pose_features(pose: Pose, contract: ClassifierContract, out: np.ndarray | None = None) -> np.ndarray:
    """The contract's 51-value input for one pose (``out`` may be a reused buffer)."""
    return joint_features(np.column_stack((pose.xy, pose.scores)), pose.frame_size, contract, out)


def joint_features(joints: np.ndarray, frame_size: tuple[int, int], contract: ClassifierContract,
                   out: np.ndarray | None = None) -> np.ndarray:
    """:func:`pose_features` from ``[17, 3]`` (x, y, score) joints normalised to a frame of ``frame_size``."""
    if out is None:
        out = np.empty(FEATURES, dtype=np.float32)
    FeatureWriter(contract, np.ascontiguousarray(joints, dtype=np.float64), out).write(frame_size)
    return out


class FeatureWriter:
    """Writes the contract's input from one ``[17, 3]`` float64 (x, y, score) joint buffer into one
    51-value float32 buffer, both fixed for its life: the views into them are made once, so a frame
    costs three numpy calls."""

    def __init__(self, contract: ClassifierContract, joints: np.ndarray, out: np.ndarray):
        if joints.shape != (NUM_KEYPOINTS, 3) or joints.dtype != np.float64:
            raise ValueError("FeatureWriter reads a [17, 3] float64 joint array")
        if out.size != FEATURES or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError("FeatureWriter writes into a contiguous float32 buffer of 51 values")
        rows = out.reshape(NUM_KEYPOINTS, 3)  # a view: (first, second, score) per keypoint
        self.pixels = contract.units == "pixels"
        self._xy, self._scores = joints[:, :2], joints[:, 2]
        self._out_xy = model_xy(rows, contract.order)
        self._out_scores = rows[:, 2]
        self._scaled = np.empty((NUM_KEYPOINTS, 2))
        self._frame_size: tuple[int, int] | None = None
        self._scale = np.empty(2)

    def write(self, frame_size: tuple[int, int]) -> None:
        if self.pixels:
            if frame_size != self._frame_size:
                self._scale[:] = frame_size
                self._frame_size = frame_size
            # Truncated integer pixels, as the TF sample's Person holds them (``Pose.pixels``); the extractor
            # writes the same. Truncated as floats: the same whole numbers without the trip through int64.
            np.multiply(self._xy, self._scale, out=self._scaled)
            np.trunc(self._scaled, out=self._out_xy)
        else:
            np.copyto(self._out_xy, self._xy)
        np.copyto(self._out_scores, self._scores)


def encode_table(xy: np.ndarray, scores: np.ndarray, order: Order) -> np.ndarray:
    """``[N, 17, 2]`` (x, y) and ``[N, 17]`` scores to ``[N, 51]`` float32, row by row as :func:`encode_keypoints`."""
    out = np.empty((len(xy), FEATURES), dtype=np.float32)
    for i in range(len(xy)):
        encode_keypoints(xy[i], scores[i], order, out[i])
    return out
