"""Per-frame pose events are thinned to a configured rate; presence changes always pass."""

from __future__ import annotations

import time


class PoseRateLimiter:
    """Called from the frame loop only, so no lock; ``rate`` may be changed by a command from
    another thread (a float assignment is atomic). With several people, each has a rate of their own."""

    def __init__(self, rate: float, clock=time.monotonic):
        self.rate = rate
        self._clock = clock
        self._last: dict[object, tuple[float, bool]] = {}  # person -> (time, present) of the last let through

    def allow(self, person: bool, key: object = None) -> bool:
        """``person``: someone (this person, for a ``key``) is there."""
        now = self._clock()
        last_time, last_person = self._last.get(key, (None, None))
        # A person appearing or leaving is news even at rate 0 (Home Assistant's presence sensor).
        due = person != last_person or (
            self.rate > 0 and (last_time is None or now - last_time >= 1.0 / self.rate))
        if due:
            self._last[key] = (now, person)
            if key is not None and not person:
                del self._last[key]  # gone: forget them (ids are not reused)
        return due
