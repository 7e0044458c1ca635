"""Per-frame pose events are thinned to a configured rate; presence changes always pass. Error
events are held to a budget, so a storm of bad commands cannot flood the outbox and the fleet."""

from __future__ import annotations

import threading
import time
from collections import deque


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


class EventBudget:
    """At most ``per_s`` events in any one-second window (a sliding window, so no burst at a window's
    edge doubles it). ``take()`` returns (allowed, how many were refused since the last allowed one).
    Thread-safe: commands arrive on the MQTT thread, pipeline errors on others."""

    def __init__(self, per_s: int, clock=time.monotonic):
        self.per_s, self._clock = per_s, clock
        self._times: deque[float] = deque()
        self._refused = 0
        self._lock = threading.Lock()

    def take(self, now: float | None = None) -> tuple[bool, int]:
        """``now``: the event's own time, so the bound holds on the times a consumer sees."""
        with self._lock:
            now = self._clock() if now is None else now
            if self._times and now < self._times[-1]:
                if self._times[-1] - now > 1.0:  # the wall clock was set back: start the window again
                    self._times.clear()
                else:  # events of two threads, taken out of their order by a hair
                    now = self._times[-1]
            while self._times and now - self._times[0] >= 1.0:
                self._times.popleft()
            if len(self._times) >= self.per_s:
                self._refused += 1
                return False, 0
            self._times.append(now)
            refused, self._refused = self._refused, 0
            return True, refused
