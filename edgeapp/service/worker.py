"""One thread that runs a function on items in the order they are handed over.

The frame loop hands each frame's inference to it and goes on to the next frame's
invokes, so the Python bookkeeping of frame N (holds, tracks, the rig, events) runs
while the models work on frame N+1. The hand-off is bounded: a consumer that falls
behind or hangs stops the producer too, so the frame loop's watchdog pings stop and
a stuck stage is never hidden behind a growing queue.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")
_DONE = object()
_POLL_S = 0.1


class Worker(Generic[T]):
    """``fn`` on each item, in order, on a thread of its own; at most ``depth`` items waiting.

    An error in ``fn`` ends the worker; the producer gets it from its next :meth:`put`
    (and from :meth:`close`), so a failure surfaces in the thread that can stop the service.
    """

    def __init__(self, fn: Callable[[T], object], name: str, depth: int = 1):
        self._fn = fn
        self._items: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._items.get()
            if item is _DONE:
                return
            try:
                self._fn(item)
            except BaseException as exc:  # handed to the producer, which decides
                self.error = exc
                return

    def put(self, item: T) -> None:
        """Hand ``item`` over; waits while ``depth`` items are waiting. Raises the worker's error."""
        while True:
            if self.error is not None:
                raise self.error
            try:
                self._items.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def close(self, timeout: float | None = None) -> BaseException | None:
        """Finish what was handed over, stop the thread, and return its error (None if all went well)."""
        while self.error is None and self._thread.is_alive():
            try:
                self._items.put(_DONE, timeout=_POLL_S)
                break
            except queue.Full:
                continue
        self._thread.join(timeout)
        return self.error
