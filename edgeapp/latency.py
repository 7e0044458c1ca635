"""Latency samples and their percentiles, shared by the benchmarks and the stats events."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LatencySummary:
    n: int
    p50_ms: float
    p95_ms: float
    mean_ms: float

    def as_dict(self, digits: int = 3) -> dict:
        return {"n": self.n, "p50_ms": round(self.p50_ms, digits), "p95_ms": round(self.p95_ms, digits),
                "mean_ms": round(self.mean_ms, digits)}


def summarize(samples_s) -> LatencySummary:
    a = np.asarray(samples_s, dtype=np.float64) * 1000.0
    if a.size == 0:
        return LatencySummary(0, 0.0, 0.0, 0.0)
    p50, p95 = np.percentile(a, [50, 95])
    return LatencySummary(int(a.size), float(p50), float(p95), float(a.mean()))


class LatencyWindow:
    """The last ``size`` samples (seconds); cheap to add to from the frame loop."""

    def __init__(self, size: int = 600):
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def summary(self) -> LatencySummary:
        return summarize(list(self._samples))

    def __len__(self) -> int:
        return len(self._samples)
