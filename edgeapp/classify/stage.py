"""The per-frame classification stage the service pipeline calls: classifier + hold tracker.

::

    stage = ClassifyStage.from_config(read(ClassifyConfig, cfg.get("classify"), "classify"), registry)
    for frame in source.frames():
        pose = movenet.estimate(frame.image)          # or None when no person
        result = stage.update(pose, frame.time)       # frame time, not wall time
        result.classification.label                   # None: no (confident) pose this frame
        result.hold.current, result.hold.held_s       # the stable pose and its hold so far
        for event in result.events: ...              # PoseStarted / PoseHeld / PoseEnded
    stage.finish()                                     # PoseEnded for a pose still held
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeapp.classify.classifier import Classification, PoseClassifier
from edgeapp.classify.config import ClassifyConfig
from edgeapp.classify.hold import HoldEvent, HoldState, HoldTracker
from edgeapp.pose.keypoint import Pose
from edgeapp.registry import Registry
from edgeapp.runtime.backend import BackendRequest


@dataclass(frozen=True)
class ClassifyResult:
    classification: Classification
    hold: HoldState
    events: tuple[HoldEvent, ...]

    def to_dict(self) -> dict:
        return {**self.classification.to_dict(), "hold": self.hold.to_dict(),
                "events": [e.to_dict() for e in self.events]}


def open_classifier(config: ClassifyConfig, registry: Registry | None = None) -> PoseClassifier:
    """The classifier a config names: a registry name (its labels from the manifest) or a file."""
    registry = registry or Registry()
    files = registry.resolve(config.model, "classify")
    labels = Path(config.labels) if config.labels else registry.labels_for(config.model)
    return PoseClassifier.open(files, labels, BackendRequest(kind="cpu", threads=config.threads),
                               threshold=config.threshold, top_k=config.top_k)


class ClassifyStage:
    """One person's classification and hold timing. One inference thread owns it."""

    def __init__(self, classifier: PoseClassifier, tracker: HoldTracker):
        self.classifier = classifier
        self.tracker = tracker

    @classmethod
    def from_config(cls, config: ClassifyConfig, registry: Registry | None = None) -> ClassifyStage:
        return cls(open_classifier(config, registry), HoldTracker(config.hold))

    def update(self, pose: Pose | None, time: float) -> ClassifyResult:
        """Classify the frame's pose (None: no person) and advance the hold tracker to ``time``."""
        c = self.classifier.classify(pose)
        events = self.tracker.update(c.label, time)
        return ClassifyResult(c, self.tracker.state, events)

    def finish(self, time: float | None = None) -> tuple[HoldEvent, ...]:
        return self.tracker.finish(time)
