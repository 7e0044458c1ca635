"""Yoga pose classification: tutorial-style classifiers with explicit input contracts,
stable labels with hold timing, and training your own (TensorFlow only in ``train``)."""

from edgeapp.classify.classifier import Classification, PoseClassifier
from edgeapp.classify.config import ClassifyConfig
from edgeapp.classify.contract import ClassifierContract, STOCK_CONTRACT, pose_features
from edgeapp.classify.hold import HoldConfig, HoldEvent, HoldState, HoldTimer, PoseEnded, PoseHeld, PoseStarted
from edgeapp.classify.stage import ClassifyResult, ClassifyStage, open_classifier

__all__ = [
    "Classification", "PoseClassifier", "ClassifyConfig", "ClassifierContract", "STOCK_CONTRACT", "pose_features",
    "HoldConfig", "HoldEvent", "HoldState", "HoldTimer", "PoseEnded", "PoseHeld", "PoseStarted",
    "ClassifyResult", "ClassifyStage", "open_classifier",
]
