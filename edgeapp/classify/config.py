"""The ``classify`` section of the service configuration.

::

    [classify]
    model = "yoga-lightning"    # registry name or a .tflite path (yoga-classifier: the stock TF model)
    labels = ""                 # optional labels file; default: the registry's, the sidecar's or labels.txt beside the model
    threshold = 0.0             # optional all-keypoints gate (the TF sample's 0.1); off: the body guard decides
    top_k = 3
    threads = 1                 # the classifier is tiny: more threads cost more than they save

    [classify.hold]
    confirm_frames = 3
    confirm_s = 0.5
    release_frames = 3
    release_s = 1.0
    milestone_s = 5.0           # a "held" result every 5 s of hold; 0 disables

    [classify.smoothing]        # video and camera only; still images are never smoothed
    enabled = true              # probabilities averaged over frame time (the keypoints: [pose.smoothing])
    probability_tau_s = 0.25    # time constant of the probability average
    max_gap_s = 0.5             # a longer gap between frames starts the average afresh
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeapp.classify.classifier import DEFAULT_THRESHOLD, DEFAULT_TOP_K
from edgeapp.classify.hold import HoldConfig
from edgeapp.classify.temporal import SmoothingConfig
from edgeapp.settings import Problems, read
from edgeapp.registry import DEFAULT_MODELS
from edgeapp.runtime.backend import MAX_THREADS


@dataclass(frozen=True)
class ClassifyConfig:
    model: str = DEFAULT_MODELS["classify"]  # registry name or .tflite path
    labels: str = ""  # labels file; "": the registry's, the sidecar's or labels.txt beside the model
    threshold: float = DEFAULT_THRESHOLD  # 0: off; else every keypoint must score this (the TF sample's 0.1 gate)
    top_k: int = DEFAULT_TOP_K  # labels reported per frame
    threads: int = 1  # the classifier is tiny: more threads cost more than they save
    hold: HoldConfig = field(default_factory=HoldConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)  # video: the probabilities


    def check(self, problems: Problems) -> None:
        problems.require(bool(self.model), "model", "must not be empty")
        problems.require(0.0 <= self.threshold <= 1.0, "threshold", f"must be between 0 and 1, got {self.threshold}")
        problems.require(1 <= self.top_k <= 1000, "top_k", f"must be between 1 and 1000, got {self.top_k}")
        problems.require(1 <= self.threads <= MAX_THREADS, "threads",
                         f"must be between 1 and {MAX_THREADS}, got {self.threads}")
