"""The ``classify`` section of the service configuration.

::

    [classify]
    model = "yoga-classifier"   # registry name or a .tflite path
    labels = ""                 # optional labels file; default: the registry's, the sidecar's or labels.txt beside the model
    threshold = 0.1             # every keypoint must score at least this, else "no confident pose"
    top_k = 3
    threads = 1                 # the classifier is tiny: more threads cost more than they save

    [classify.hold]
    confirm_frames = 3
    confirm_s = 0.5
    release_frames = 3
    release_s = 1.0
    milestone_s = 5.0           # a "held" result every 5 s of hold; 0 disables
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeapp.classify.classifier import DEFAULT_THRESHOLD, DEFAULT_TOP_K
from edgeapp.classify.hold import HoldConfig
from edgeapp.settings import Problems, read
from edgeapp.registry import DEFAULT_MODELS


@dataclass(frozen=True)
class ClassifyConfig:
    model: str = DEFAULT_MODELS["classify"]  # registry name or .tflite path
    labels: str = ""  # labels file; "": the registry's, the sidecar's or labels.txt beside the model
    threshold: float = DEFAULT_THRESHOLD  # every keypoint must score at least this, else "no confident pose"
    top_k: int = DEFAULT_TOP_K  # labels reported per frame
    threads: int = 1  # the classifier is tiny: more threads cost more than they save
    hold: HoldConfig = field(default_factory=HoldConfig)


    def check(self, problems: Problems) -> None:
        problems.require(bool(self.model), "model", "must not be empty")
        problems.require(0.0 <= self.threshold <= 1.0, "threshold", f"must be between 0 and 1, got {self.threshold}")
        problems.require(1 <= self.top_k <= 1000, "top_k", f"must be between 1 and 1000, got {self.top_k}")
        problems.require(1 <= self.threads <= 64, "threads", f"must be between 1 and 64, got {self.threads}")
