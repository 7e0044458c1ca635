"""A preview whose address was taken when the service started: bound again later, never a reason to stop.

A busy port (another program, the last run's socket still closing) must not turn into a restart loop of
the whole service: the camera, models and MQTT go on, and the preview is retried with the same capped,
jittered backoff as the broker's reconnects (the mqtt.reconnect_min/max defaults, 1 s doubling to 60 s).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from edgeapp.backoff import backoff_delays

log = logging.getLogger(__name__)

RETRY_MIN_S, RETRY_MAX_S = 1.0, 60.0  # as mqtt.reconnect_min/reconnect_max's defaults


class PreviewRebind:
    """``start()`` a thread that calls ``open_server`` until it returns a server; ``stop()`` ends both.

    ``open_server`` raises ``PreviewBindError`` while the address stays taken."""

    def __init__(self, open_server: Callable, bind_error: type[Exception],
                 low: float = RETRY_MIN_S, high: float = RETRY_MAX_S):
        self._open, self._bind_error = open_server, bind_error
        self.low, self.high = low, high
        self.server = None
        self.attempts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="preview-rebind", daemon=True)

    def start(self) -> PreviewRebind:
        self._thread.start()
        return self

    def _run(self) -> None:
        for delay in backoff_delays(self.low, self.high):
            if self._stop.wait(delay):
                return
            self.attempts += 1
            try:
                server = self._open()
            except self._bind_error as exc:
                log.debug("%s (attempt %d)", exc, self.attempts)
                continue
            with self._lock:
                if not self._stop.is_set():
                    self.server = server
                    log.info("preview bound after %d retries", self.attempts)
                    return
            server.stop()  # the service stopped while this one was binding
            return

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stop.set()
        self._thread.join(timeout)
        if self.server is not None:
            self.server.stop(timeout)
