"""Reading frames on their own thread, so decoding overlaps inference.

Live sources hand over through a one-frame slot where the newest frame wins, so
latency never grows when inference is slower than the camera (the dropped frames
are counted). Files go through a small bounded queue and are never dropped.
"""

from __future__ import annotations

import collections
import logging
import threading

from edgeapp.camera.frame import Frame

log = logging.getLogger(__name__)


class EndOfStream(Exception):
    """The source has no more frames (a file ended, or it failed for good)."""


class Capture:
    def __init__(self, source, depth: int = 4, prepare=None):
        self.source = source
        self.prepare = prepare  # called on the capture thread with each frame, so it overlaps inference
        self.live = bool(getattr(source, "live", False))
        self.depth = 1 if self.live else depth
        self.dropped = 0
        self.error: Exception | None = None
        self._frames: collections.deque[Frame] = collections.deque()
        self._cond = threading.Condition()
        self._ended = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> Capture:
        self._thread.start()
        return self

    def _put(self, frame: Frame) -> None:
        with self._cond:
            if self.live:
                if self._frames:  # an unconsumed frame is replaced: the newest one wins
                    self._frames.popleft()
                    self.dropped += 1
            else:
                self._cond.wait_for(lambda: len(self._frames) < self.depth or self._stopping)
            self._frames.append(frame)
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            for frame in self.source.frames():
                if self._stopping:
                    break
                if self.prepare is not None:
                    self.prepare(frame)
                self._put(frame)
        except Exception as exc:  # reported by the pipeline, which decides what to do
            log.error("frame source %s failed: %s", getattr(self.source, "name", "?"), exc)
            self.error = exc
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def get(self, timeout: float = 0.5) -> Frame | None:
        """The next frame, or None if none came within ``timeout``; EndOfStream when the source is done."""
        with self._cond:
            self._cond.wait_for(lambda: self._frames or self._ended, timeout=timeout)
            if self._frames:
                frame = self._frames.popleft()
                self._cond.notify_all()
                return frame
            if self._ended:
                raise EndOfStream() from self.error
            return None

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.source.close()
        self._thread.join(timeout=5)
