"""Per-frame pose events are thinned to a configured rate; presence changes always pass."""

from __future__ import annotations

import time


class PoseRateLimiter:
    """Called from the frame loop only, so no lock; ``rate`` may be changed by a command from
    another thread (a float assignment is atomic)."""

    def __init__(self, rate: float, clock=time.monotonic):
        self.rate = rate
        self._clock = clock
        self._last_time: float | None = None
        self._last_person: bool | None = None

    def allow(self, person: bool) -> bool:
        now = self._clock()
        # A person appearing or leaving is news even at rate 0 (Home Assistant's presence sensor).
        due = person != self._last_person or (
            self.rate > 0 and (self._last_time is None or now - self._last_time >= 1.0 / self.rate))
        if due:
            self._last_time, self._last_person = now, person
        return due
