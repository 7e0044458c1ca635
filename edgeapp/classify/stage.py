"""The per-frame classification stage the service pipeline calls: classifier + probability smoothing + hold timer.

::

    stage = ClassifyStage.from_config(read(ClassifyConfig, cfg.get("classify"), "classify"), registry)
    for frame in source.frames():
        pose = smoother.pose(movenet.estimate(frame.image), frame.time)  # filtered by the pose stage, or None
        result = stage.update(pose, frame.time)       # frame time, not wall time
        result.answer.label                           # None: no (confident) pose this frame
        result.hold.current, result.hold.held_s       # the stable pose and its hold so far
        for event in result.events: ...              # PoseStarted / PoseHeld / PoseEnded
    stage.finish()                                     # PoseEnded for a pose still held
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeapp.classify.body import pose_joints
from edgeapp.classify.classifier import NO_POSE_RESULT, Classification, PoseClassifier, resolve_contract
from edgeapp.classify.config import ClassifyConfig
from edgeapp.classify.hold import HoldEvent, HoldState, HoldTimer
from edgeapp.classify.temporal import ProbabilitySmoother, SmoothingConfig
from edgeapp.pose.keypoint import Pose
from edgeapp.registry import Registry
from edgeapp.runtime.backend import BackendRequest
from edgeapp.runtime.model import Model


@dataclass(frozen=True)
class ClassifyResult:
    answer: Classification  # this frame's
    hold: HoldState
    events: tuple[HoldEvent, ...]

    def to_dict(self) -> dict:
        return {**self.answer.to_dict(), "hold": self.hold.to_dict(),
                "events": [e.to_dict() for e in self.events]}


def open_classifier(config: ClassifyConfig, registry: Registry | None = None) -> PoseClassifier:
    """The classifier a config names: a registry name (its labels from the manifest) or a file."""
    registry = registry or Registry()
    return classifier_on(open_classifier_model(config, registry), config, registry)


def open_classifier_model(config: ClassifyConfig, registry: Registry) -> Model:
    """The model of the classifier a config names, on the CPU (a float classifier has no Edge TPU twin)."""
    return Model.open(registry.resolve(config.model, "classify"), BackendRequest(kind="cpu", threads=config.threads))


def classifier_on(model: Model, config: ClassifyConfig, registry: Registry) -> PoseClassifier:
    """The classifier a config names on its model, opened apart: a caller that must tell a bad model file from bad
    labels (the service naming the config key at fault) sees which of the two steps failed."""
    labels = Path(config.labels) if config.labels else registry.labels_for(config.model)
    contract, where = resolve_contract(model.path, labels)  # beside the CPU build, the one the model runs
    return PoseClassifier(model, contract, config.threshold, config.top_k, labels_source=where)


class VideoClassifier:
    """Classification of one person's poses over time: the model, probabilities smoothed over frame
    time, the open-set decision (temporal.py). The poses come already smoothed by the pose stage
    (:class:`~edgeapp.pose.smoothing.PoseSmoother`). With ``smoothing`` off (or None) every frame is
    classified on its own, as a still image is."""

    def __init__(self, classifier: PoseClassifier, smoothing: SmoothingConfig | None = None):
        self.classifier = classifier
        on = smoothing is not None and smoothing.enabled
        self.probs = ProbabilitySmoother(smoothing.probability_tau_s, smoothing.max_gap_s) if on else None

    def classify(self, pose: Pose | None, time: float) -> Classification:
        if pose is None:
            self.reset()
            return NO_POSE_RESULT
        c = self.classifier
        pose_joints(pose, c.joints)
        refused, min_score = c.screen(pose.frame_size)
        if refused is not None:
            self.reset()
            return refused
        p = c.joint_probabilities(pose.frame_size)
        if self.probs is not None:
            p = self.probs(p, time)
        return c.decide(p, min_score)

    def reset(self) -> None:
        if self.probs is not None:
            self.probs.reset()


class ClassifyStage:
    """One person's classification and hold timing. One inference thread owns it."""

    def __init__(self, classifier: PoseClassifier, timer: HoldTimer, smoothing: SmoothingConfig | None = None):
        self.classifier = classifier
        self.smoothing = smoothing
        self.video = VideoClassifier(classifier, smoothing)
        self.timer = timer

    @classmethod
    def from_config(cls, config: ClassifyConfig, registry: Registry | None = None) -> ClassifyStage:
        return cls.on(open_classifier(config, registry), config)

    @classmethod
    def on(cls, classifier: PoseClassifier, config: ClassifyConfig) -> ClassifyStage:
        """The stage a config describes, on a classifier opened apart (the service, naming the key at fault)."""
        return cls(classifier, HoldTimer(config.hold), config.smoothing)

    def update(self, pose: Pose | None, time: float) -> ClassifyResult:
        """Classify the frame's pose (None: no person) and advance the hold timer to ``time``."""
        c = self.video.classify(pose, time)
        events = self.timer.update(c.label, time)
        return ClassifyResult(c, self.timer.state, events)

    def finish(self, time: float | None = None) -> tuple[HoldEvent, ...]:
        self.video.reset()
        return self.timer.finish(time)
