"""Classifying one pose with a tutorial-style classifier (.tflite + labels + contract).

Every answer has a status:

``ok``                 one of the model's classes, ``label`` set.
``other``              a body, but none of the classes: the model's ``other_label`` won, or
                       the winner's probability is under the contract's ``min_probability``
                       (the open-set test, calibrated on held-out data per model).
``no confident pose``  the torso or too many joints are not really there (:mod:`body`).
``degenerate pose``    the keypoints span no pixels (:mod:`body`), found before the model runs.
``no pose``            no person at all (none found, or fewer than 3 joints seen).

There is no all-keypoints gate by default: one occluded wrist does not refuse a pose.
``threshold`` (the TF sample's every-keypoint >= 0.1 gate) can still be switched on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeapp.classify.contract import (
    FEATURES,
    OTHER,
    ClassifierContract,
    FeatureWriter,
    STOCK_CONTRACT,
    load_contract,
    read_labels,
    sidecar_path,
)
from edgeapp.classify.body import DEGENERATE_POSE, NO_CONFIDENT_POSE, NO_POSE, BodyGuard, pose_joints
from edgeapp.errors import ConfigError, ModelError
from edgeapp.pose.keypoint import Pose
from edgeapp.runtime.backend import BackendRequest, ModelFiles
from edgeapp.runtime.model import Model

DEFAULT_THRESHOLD = 0.0  # the TF sample's all-keypoints gate is off (it was 0.1 there)
DEFAULT_TOP_K = 3
OK = "ok"


@dataclass(frozen=True)
class Classification:
    """One frame's answer. ``label`` is None when nothing was classified (see ``status``)."""

    label: str | None
    score: float
    top: tuple[tuple[str, float], ...]  # best first, at most top_k entries
    status: str  # "ok", "other", "no confident pose", "degenerate pose" or "no pose"
    min_keypoint_score: float

    @property
    def ok(self) -> bool:
        return self.label is not None

    def to_dict(self, digits: int = 4) -> dict:
        return {
            "label": self.label,
            "score": round(self.score, digits),
            "scores": {label: round(p, digits) for label, p in self.top},
            "status": self.status,
        }


NO_POSE_RESULT = Classification(None, 0.0, (), NO_POSE, 0.0)


def check_classifier_model(model: Model, labels: tuple[str, ...], labels_source: str) -> None:
    """The model must take ``[1, 51]`` float32 and give one probability per label."""
    shape = model.input.shape
    if len(model.inputs) != 1 or tuple(shape) != (1, FEATURES) or model.input.dtype != np.float32:
        raise ModelError(
            f"{model.path} does not look like a pose classifier: its input is {list(shape)} "
            f"{model.input.dtype}, expected [1, {FEATURES}] float32 (17 keypoints x 3)"
        )
    out = model.outputs[0].shape
    if len(model.outputs) != 1 or len(out) != 2 or out[0] != 1:
        raise ModelError(
            f"{model.path} does not look like a pose classifier: its outputs are "
            f"{[list(o.shape) for o in model.outputs]}, expected one [1, classes] tensor"
        )
    if out[1] != len(labels):
        raise ModelError(
            f"{labels_source} has {len(labels)} labels but {model.path.name} gives {out[1]} outputs"
        )


def resolve_contract(model_path: Path, labels_file: Path | None = None) -> tuple[ClassifierContract, str]:
    """The contract for a model file, with its labels filled in, and where the labels came from.

    Labels come from the sidecar, ``labels_file``, or ``labels.txt`` beside the model.
    When two of those are present they must agree: a disagreement means one of them
    belongs to another model, and guessing which would be a silent wrong answer.
    """
    model_path = Path(model_path)
    side = sidecar_path(model_path)
    contract = load_contract(side) if side.is_file() else STOCK_CONTRACT
    sources: list[tuple[tuple[str, ...], str]] = []
    if contract.labels is not None:
        sources.append((contract.labels, str(side)))
    if labels_file is not None:
        sources.append((read_labels(labels_file), str(labels_file)))
    elif not sources:
        beside = model_path.with_name("labels.txt")
        if beside.is_file():
            sources.append((read_labels(beside), str(beside)))
    if not sources:
        if contract.other_label is not None:
            raise ModelError(f"{side}: other_label needs the labels list in the same file")
        raise ModelError(
            f"no labels for {model_path}: give a labels file (one label per line) or put a "
            f"'labels' list in {side.name}"
        )
    labels, where = sources[0]
    for other, other_where in sources[1:]:
        if other != labels:
            raise ModelError(f"labels disagree: {where} has {list(labels)}, {other_where} has {list(other)}")
    if contract.other_label is not None and contract.other_label not in labels:
        raise ModelError(f"{side}: other_label {contract.other_label!r} is not one of the labels {list(labels)}")
    return contract.with_labels(labels), where


class PoseClassifier:
    """A classifier model with its contract. Not thread-safe (one inference thread owns it)."""

    def __init__(self, model: Model, contract: ClassifierContract, threshold: float = DEFAULT_THRESHOLD,
                 top_k: int = DEFAULT_TOP_K, labels_source: str = "the contract", guard: BodyGuard | None = None):
        if contract.labels is None:
            raise ModelError("the contract needs its labels filled in (see resolve_contract)")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError("classify.threshold", f"must be within 0..1, got {threshold!r}")
        if top_k < 1:
            raise ConfigError("classify.top_k", f"must be at least 1, got {top_k!r}")
        check_classifier_model(model, contract.labels, labels_source)
        self.model = model
        self.contract = contract
        self.labels = contract.labels
        self.threshold = threshold
        self.guard = guard or BodyGuard()
        self.top_k = min(top_k, len(self.labels))
        self.other_index = self.labels.index(contract.other_label) if contract.other_label else None
        if self.other_index is not None and len(self.labels) < 2:
            raise ModelError(f"{labels_source}: a model whose only output is {contract.other_label!r} names no pose")
        # This frame's (x, y, score), written by the caller of screen(); its values are read as one flat list.
        self.joints = np.empty((17, 3))
        self._values = self.joints.reshape(FEATURES)
        self._input = np.empty((1, FEATURES), dtype=np.float32)  # reused every frame, in the model's input shape
        self._features = FeatureWriter(contract, self.joints, self._input)
        self._input_index = model.inputs[0].index
        self._output_index = model.outputs[0].index

    @classmethod
    def open(cls, model_file: Path | ModelFiles, labels_file: Path | None = None,
             request: BackendRequest | None = None, threshold: float = DEFAULT_THRESHOLD,
             top_k: int = DEFAULT_TOP_K) -> PoseClassifier:
        files = model_file if isinstance(model_file, ModelFiles) else ModelFiles.from_path(Path(model_file))
        # The contract lives beside the CPU build (a float classifier has no Edge TPU twin).
        contract, where = resolve_contract(files.any, labels_file)
        model = Model.open(files, request or BackendRequest(kind="cpu", threads=1))
        return cls(model, contract, threshold, top_k, labels_source=where)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """The model's output for one 51-value input already in the contract's order (a view: copy to keep)."""
        self._input[0] = features
        return self._invoke()

    def _invoke(self) -> np.ndarray:
        # The interpreter directly, from the one input buffer: on the frame path each layer of calls
        # costs several times its warm time after a MoveNet invoke (README, Performance).
        interpreter = self.model.interpreter
        interpreter.set_tensor(self._input_index, self._input)
        self.model.invoke()
        return interpreter.get_tensor(self._output_index)[0]

    def screen(self, frame_size: tuple[int, int]) -> tuple[Classification | None, float]:
        """(the answer when the joints in :attr:`joints` are not classified at all, by the body guard or the
        optional all-keypoints gate, else None; their lowest score)."""
        status, min_score = self.guard.check(self._values.tolist(), frame_size)
        if status is None and min_score < self.threshold:
            status = NO_CONFIDENT_POSE
        return (None if status is None else Classification(None, 0.0, (), status, min_score)), min_score

    def joint_probabilities(self, frame_size: tuple[int, int]) -> list[float]:
        """The model's probabilities for the joints in :attr:`joints` (that passed :meth:`screen`): the
        features go from the joint buffer into the input buffer by fixed views."""
        self._features.write(frame_size)
        return self._invoke().tolist()

    def classify(self, pose: Pose | None) -> Classification:
        """A still image's answer (video goes through :class:`~edgeapp.classify.stage.VideoClassifier`)."""
        if pose is None:
            return NO_POSE_RESULT
        pose_joints(pose, self.joints)
        refused, min_score = self.screen(pose.frame_size)
        if refused is not None:
            return refused
        return self.decide(self.joint_probabilities(pose.frame_size), min_score)

    def decide(self, probs, min_score: float) -> Classification:
        """The answer for a probability vector (an array or a sequence of floats): a class, or ``other``
        by the contract's open-set rule. Worked in Python floats: a handful of values, where every numpy
        call would cost more than the arithmetic."""
        p = probs.tolist() if isinstance(probs, np.ndarray) else probs
        # a kernel's 0/0 that the body guard did not foresee (a finite sum proves every value finite)
        if not math.isfinite(sum(p)) and not all(map(math.isfinite, p)):
            return Classification(None, 0.0, (), DEGENERATE_POSE, min_score)
        order = sorted(range(len(p)), key=p.__getitem__, reverse=True)  # stable: ties keep the label order
        labels = self.labels
        top = tuple([(labels[i], p[i]) for i in order[: self.top_k]])
        best, score = self.winner(p, order)
        if best is None or score < self.contract.min_probability:
            return Classification(None, score, top, OTHER, min_score)
        return Classification(labels[best], score, top, OK, min_score)

    def winner(self, p: list[float], order: list[int]) -> tuple[int | None, float]:
        """The winning class and its probability; None when the "other" output decides (contract).
        ``order``: the classes, best first."""
        other = self.other_index
        if other is None:
            return order[0], p[order[0]]
        best = order[1] if order[0] == other else order[0]  # the best pose
        p_other = p[other]
        limit = self.contract.other_threshold
        if (p_other > limit) if limit is not None else (p_other > p[best]):
            return None, p_other
        return best, p[best] / max(1.0 - p_other, 1e-9)  # among the poses

    def predict_table(self, features: np.ndarray) -> np.ndarray:
        """``[N, 51]`` -> ``[N, classes]`` probabilities, no gate (for evaluating a labelled table)."""
        out = np.empty((len(features), len(self.labels)), dtype=np.float32)
        for i, row in enumerate(features):
            out[i] = self.probabilities(row)
        return out
