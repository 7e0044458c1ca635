"""The ``classify`` section of the service configuration.

::

    [classify]
    enabled = true
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

import math
from dataclasses import dataclass, field, fields

from edgeapp.classify.classifier import DEFAULT_THRESHOLD, DEFAULT_TOP_K
from edgeapp.classify.hold import HoldConfig
from edgeapp.errors import ConfigError
from edgeapp.registry import DEFAULT_MODELS


@dataclass(frozen=True)
class ClassifyConfig:
    enabled: bool = True
    model: str = DEFAULT_MODELS["classify"]
    labels: str = ""
    threshold: float = DEFAULT_THRESHOLD
    top_k: int = DEFAULT_TOP_K
    threads: int = 1
    hold: HoldConfig = field(default_factory=HoldConfig)

    @classmethod
    def from_dict(cls, d: dict | None, path: str = "classify") -> ClassifyConfig:
        """Build from a parsed TOML/JSON table; unknown keys and bad values raise ConfigError naming the key."""
        d = {} if d is None else d
        if not isinstance(d, dict):
            raise ConfigError(path, f"must be a table, got {type(d).__name__}")
        _no_unknown(d, {f.name for f in fields(cls)}, path)
        kw: dict = {}
        if "enabled" in d:
            kw["enabled"] = _bool(d["enabled"], f"{path}.enabled")
        for key in ("model", "labels"):
            if key in d:
                if not isinstance(d[key], str):
                    raise ConfigError(f"{path}.{key}", f"must be a string, got {d[key]!r}")
                kw[key] = d[key]
        if kw.get("model", "x") == "":
            raise ConfigError(f"{path}.model", "must not be empty")
        if "threshold" in d:
            kw["threshold"] = _number(d["threshold"], f"{path}.threshold", 0.0, 1.0)
        if "top_k" in d:
            kw["top_k"] = _int(d["top_k"], f"{path}.top_k", 1, 1000)
        if "threads" in d:
            kw["threads"] = _int(d["threads"], f"{path}.threads", 1, 64)
        if "hold" in d:
            kw["hold"] = hold_from_dict(d["hold"], f"{path}.hold")
        return cls(**kw)


def hold_from_dict(d: dict, path: str = "classify.hold") -> HoldConfig:
    if not isinstance(d, dict):
        raise ConfigError(path, f"must be a table, got {type(d).__name__}")
    _no_unknown(d, {f.name for f in fields(HoldConfig)}, path)
    kw: dict = {}
    for key in ("confirm_frames", "release_frames"):
        if key in d:
            kw[key] = _int(d[key], f"{path}.{key}", 0, 10_000)
    for key in ("confirm_s", "release_s", "milestone_s"):
        if key in d:
            kw[key] = _number(d[key], f"{path}.{key}", 0.0, 86_400.0)
    return HoldConfig(**kw)


def _no_unknown(d: dict, known: set[str], path: str) -> None:
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(known))})")


def _bool(v, path: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(path, f"must be true or false, got {v!r}")
    return v


def _int(v, path: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(path, f"must be a whole number, got {v!r}")
    if not lo <= v <= hi:
        raise ConfigError(path, f"must be between {lo} and {hi}, got {v}")
    return v


def _number(v, path: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(path, f"must be a number, got {v!r}")
    if not lo <= v <= hi:
        raise ConfigError(path, f"must be between {lo:g} and {hi:g}, got {v!r}")
    return float(v)
