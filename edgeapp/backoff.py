"""Reconnect delays for anything that retries a link (the broker, a camera, a video file)."""

from __future__ import annotations

import itertools
import random
from typing import Iterator


def backoff_delay(failures: int, low: float, high: float) -> float:
    """Exponential, capped, with "equal jitter": half fixed so it never collapses to zero, half random
    so that a fleet does not reconnect to a shared server in lock-step."""
    cap = min(high, low * 2 ** min(failures, 30))
    return cap / 2 + random.uniform(0, cap / 2)


def backoff_delays(low: float, high: float) -> Iterator[float]:
    """The delays after the 0th, 1st, 2nd... failure in a row."""
    return (backoff_delay(n, low, high) for n in itertools.count())
