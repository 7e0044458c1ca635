"""A frame source that survives its camera: reopen with backoff, count and report every outage."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

import numpy as np

from edgeapp.backoff import backoff_delays
from edgeapp.camera.frame import Frame
from edgeapp.errors import SourceError

log = logging.getLogger(__name__)


class Camera(Protocol):
    uri: str

    def open(self) -> None: ...

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


@dataclass
class CameraStatus:
    """What the service reports about its camera (stats events, health, STATUS=)."""

    state: str = "starting"  # starting | up | down
    reconnects: int = 0
    bad_frames: int = 0
    outages: int = 0
    last_error: str = ""
    since: float = field(default_factory=time.monotonic)
    repeat_s: float = 30.0  # a changed reason within one outage is reported again, at most this often
    reports: int = 0  # outages, and changed reasons of an outage still open: each one is an error event
    _reported_at: float = field(default=0.0, repr=False)
    _reported: str = field(default="", repr=False)

    def went_down(self, name: str, error: str) -> None:
        """A failed open, read or pass: one outage (and one log line) however many attempts it lasts. Within an
        outage a new reason is said again (a device that appears but is busy), at most every ``repeat_s``;
        the same reason found again is the same outage."""
        # Other threads read these without a lock: the error and state are written before the counts,
        # so whoever sees a new count also sees why (an event once read "is down: " with the state "starting").
        self.last_error = error
        now = time.monotonic()
        if self.state != "down":
            self.since = now
            self.state = "down"
            self._said(error, now)
            self.outages += 1
            log.warning("source %s is down: %s", name, error)
        elif error != self._reported and now - self._reported_at >= self.repeat_s:
            self._said(error, now)
            log.warning("source %s is still down: %s", name, error)

    def _said(self, error: str, now: float) -> None:
        self._reported, self._reported_at = error, now
        self.reports += 1

    def came_up(self, name: str) -> None:
        if self.state == "down":
            self.reconnects += 1
            log.warning("source %s is back after %.1f s", name, time.monotonic() - self.since)
        self.state, self.since = "up", time.monotonic()

    def as_dict(self) -> dict:
        return {"state": self.state, "reconnects": self.reconnects, "bad_frames": self.bad_frames,
                "outages": self.outages, "last_error": self.last_error,
                "since_s": round(time.monotonic() - self.since, 1)}

    def mark(self) -> tuple[str, int]:
        """What changes exactly when the camera goes down, says a new reason or comes back (a down/up/down
        between two looks too); the count is ``reports``: outages and new reasons, each one to report."""
        return self.state, self.reports


def valid_image(image) -> bool:
    """A BGR frame the models can take: HxWx3 uint8, not empty."""
    return (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
            and image.size > 0)


class ReconnectingSource:
    """Live frames from a camera made by ``factory``; any failure closes it and opens a new one."""

    live = True
    still = False

    def __init__(
        self,
        factory: Callable[[], Camera],
        name: str,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        max_bad_frames: int = 10,
        stop: threading.Event | None = None,
    ):
        self.factory = factory
        self.name = name
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.max_bad_frames = max_bad_frames
        self.status = CameraStatus(repeat_s=reconnect_max_s)
        self._stop = stop or threading.Event()

    def close(self) -> None:
        self._stop.set()

    def frames(self) -> Iterator[Frame]:
        index = 0
        delays = backoff_delays(self.reconnect_min_s, self.reconnect_max_s)
        while not self._stop.is_set():
            camera = self.factory()
            try:
                camera.open()
            except SourceError as exc:
                self.status.went_down(self.name, str(exc))
                self._stop.wait(next(delays))
                continue
            self.status.came_up(self.name)
            delays = backoff_delays(self.reconnect_min_s, self.reconnect_max_s)
            bad_in_a_row = 0
            try:
                while not self._stop.is_set():
                    image = camera.read()
                    if not valid_image(image):
                        self.status.bad_frames += 1
                        bad_in_a_row += 1
                        if bad_in_a_row >= self.max_bad_frames:
                            self.status.went_down(self.name, f"{bad_in_a_row} frames in a row failed to arrive or decode")
                            break
                        continue
                    bad_in_a_row = 0
                    yield Frame(image=image, index=index, time=time.monotonic(), source=self.name)
                    index += 1
            finally:
                camera.close()
            self._stop.wait(next(delays))
