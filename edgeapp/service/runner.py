"""``edgeapp run``: the service's life from start to a drained stop.

- READY=1 goes to systemd after the first frame is processed, so ``active`` means working; or, with the
  camera down at start, once the service is up and retrying it (STATUS says ``camera down``).
- WATCHDOG=1 is sent from the frame loop (every turn, rate-limited): a stuck
  inference stops the pings and systemd restarts the service.
- A stall watchdog thread does the same where no systemd is watching.
- SIGTERM/SIGINT/SIGHUP (from before the models load): the current frame finishes, holds end, the outbox flushes for
  ``service.drain_s``, ``stopped`` is published.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from functools import partial

from edgeapp.config import AppConfig
from edgeapp.errors import ConfigError
from edgeapp.events import encode
from edgeapp.events.base import Event
from edgeapp.events.error import ErrorEvent
from edgeapp.preview import start_preview
from edgeapp.preview.state import snapshot_jpeg
from edgeapp.service.notify import SystemdNotifier
from edgeapp.service.pipeline import FrameResult, Pipeline

log = logging.getLogger(__name__)

EXIT_STALLED = 70  # EX_SOFTWARE: the frame loop stopped making progress
FATAL_REPORT_S = 3.0  # how long a refused start may wait for the broker to take its error event


class PrintSink:
    """Events as JSON lines on stdout (``--print-events``), in the envelope the broker would see."""

    def __init__(self, device: str, stream=None):
        self.device = device
        self.stream = stream or sys.stdout
        self._seq = 0
        self._lock = threading.Lock()

    def publish(self, event: Event) -> bool:
        with self._lock:
            self._seq += 1
            self.stream.write(encode(event, self.device, self._seq).decode() + "\n")
            self.stream.flush()
        return True

    def close(self, drain_s: float = 0) -> None:
        pass


class FanOut:
    """One sink in front of several (MQTT and --print-events)."""

    def __init__(self, sinks: list):
        self.sinks = sinks

    def publish(self, event: Event) -> bool:
        return all([s.publish(event) for s in self.sinks])

    def start(self, serving: bool = True) -> None:
        for s in self.sinks:
            if hasattr(s, "start"):
                s.start(serving)

    def publish_snapshot(self, jpeg: bytes) -> None:
        for s in self.sinks:
            if hasattr(s, "publish_snapshot"):
                s.publish_snapshot(jpeg)

    def close(self, drain_s: float = 0) -> None:
        """A stop that came before the broker connection was up (during model loading) still gets its
        events and ``stopped`` out: the connection may take part of ``drain_s``, the flush the rest."""
        deadline = time.monotonic() + drain_s
        for s in self.sinks:
            if drain_s > 0 and getattr(s, "first_attempt_under_way", False):
                s.wait_connected(max(0.0, deadline - time.monotonic()))
            s.close(max(0.0, deadline - time.monotonic()) if drain_s > 0 else 0)


class StallWatchdog(threading.Thread):
    """Exits the process when the frame loop has not turned for ``timeout_s`` (a hung Edge TPU call)."""

    def __init__(self, pipeline: Pipeline, timeout_s: float, stop: threading.Event, exit=os._exit):
        super().__init__(name="stall-watchdog", daemon=True)
        self.pipeline, self.timeout_s, self.stop, self._exit = pipeline, timeout_s, stop, exit

    def run(self) -> None:
        while not self.stop.wait(min(1.0, self.timeout_s / 4)):
            stalled = time.monotonic() - self.pipeline.progress_at
            if stalled > self.timeout_s:
                log.critical("frame loop stuck for %.0f s (inference hung?); exiting so the service is restarted", stalled)
                logging.shutdown()
                self._exit(EXIT_STALLED)
                return


def build_sink(config: AppConfig, print_events: bool, connect: bool = True):
    """The sinks; with ``connect=False`` MQTT waits for ``FanOut.start()`` (once the command handlers exist)."""
    sinks = []
    if config.mqtt.enabled:
        from edgeapp.mqtt.publisher import Publisher

        publisher = Publisher(config.mqtt)
        sinks.append(publisher.start() if connect else publisher)
    if print_events:
        sinks.append(PrintSink(config.mqtt.device_id))
    if not sinks:
        log.warning("no [mqtt] table and no --print-events: events go nowhere")
    return FanOut(sinks)


class Readiness:
    """READY=1 once: at the first frame, or when the camera is down and being retried (STATUS says so).
    Without the second, a camera missing at boot holds the start until TimeoutStartSec, and systemd
    restarts a service that is up and retrying, forever. Called from the frame loop and the finishing worker."""

    def __init__(self, notifier: SystemdNotifier, pipeline: Pipeline, started: float):
        self.notifier, self.pipeline, self.started = notifier, pipeline, started
        self.sent = False
        self._lock = threading.Lock()

    def first_frame(self) -> None:
        self._send("first frame")

    def camera_changed(self) -> None:
        if self.pipeline.camera()["state"] == "down":
            self._send("camera down, retrying")
        else:
            self.notifier.status(self.pipeline.status_line())

    def _send(self, why: str) -> None:
        with self._lock:
            if self.sent:
                self.notifier.status(self.pipeline.status_line())
                return
            self.sent = True
        log.info("ready (%s) after %.2f s on %s", why, time.monotonic() - self.started, self.pipeline.status_line())
        self.notifier.ready(self.pipeline.status_line())


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # SIGHUP: a closed terminal; there is no reload


def run_service(config: AppConfig, max_frames: int | None = None, print_events: bool = False,
                notifier: SystemdNotifier | None = None, stop: threading.Event | None = None) -> int:
    notifier = notifier or SystemdNotifier()
    stop = stop or threading.Event()
    started = time.monotonic()

    def on_signal(signum, _frame):
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    # Before the models load: a stop asked for while they load is a clean stop once they have, not exit 143.
    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        return _serve(config, max_frames, print_events, notifier, stop, started)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _serve(config: AppConfig, max_frames: int | None, print_events: bool, notifier: SystemdNotifier,
           stop: threading.Event, started: float) -> int:
    sink = build_sink(config, print_events, connect=False)
    try:
        pipeline = Pipeline(config, sink, render_snapshot=partial(snapshot_jpeg, quality=config.preview.jpeg_quality))
    except ConfigError as exc:
        _report_fatal(sink, exc)
        raise
    except BaseException:
        sink.close(0)
        raise
    try:
        # Handlers first, then the broker: a command sent on `available=online` (or retained) finds its handler.
        _connect(sink, pipeline)
        sink.start()
        preview = start_preview(config.preview, pipeline, sink)  # None unless [preview] enabled
    except BaseException:
        sink.close(0)
        raise
    watchdog_stop = threading.Event()
    StallWatchdog(pipeline, config.service.stall_timeout_s, watchdog_stop).start()
    next_status = time.monotonic() + 10
    readiness = Readiness(notifier, pipeline, started)

    def on_frame(result: FrameResult) -> None:
        nonlocal next_status
        if not readiness.sent:
            readiness.first_frame()
        now = time.monotonic()
        if now >= next_status:
            next_status = now + 10
            notifier.status(pipeline.status_line())

    try:
        frames = pipeline.run(stop, max_frames=max_frames, on_frame=on_frame, heartbeat=notifier.watchdog,
                              on_camera=readiness.camera_changed)
    finally:
        if preview is not None:
            preview.stop()  # /healthz goes away with the frame loop; the port is free for a restart
        notifier.stopping()
        watchdog_stop.set()
        pipeline.close()
        sink.publish(pipeline.stats_event())
        sink.close(config.service.drain_s)
    log.info("stopped after %d frames (%s)", frames, pipeline.status_line())
    return 0


def _report_fatal(sink, exc: ConfigError) -> None:
    """A start refused for the config still tells the broker why, as an ``error`` event; ``stopped`` follows
    (publisher close), so Home Assistant shows the device unavailable for a reason, not the Last Will's
    ``offline`` of a crash. Never ``online``: the device never ran. A broker that is away delays the exit by
    FATAL_REPORT_S at most."""
    sink.start(serving=False)
    sink.publish(ErrorEvent(source="config", message=str(exc),
                            detail={"keys": [e.path for e in getattr(exc, "errors", [exc])]}))
    sink.close(FATAL_REPORT_S)


def _connect(sink, pipeline: Pipeline) -> None:
    """The MQTT publisher reports the pipeline's stats and its commands flip the pipeline's controls."""
    for s in sink.sinks:
        commands = getattr(s, "commands", None)
        if commands is None:
            continue
        s.stats_source = pipeline.stats_event
        c = pipeline.controls
        commands.register("classification", lambda on: setattr(c, "classification", on), initial=c.classification)
        commands.register("tracking", lambda on: setattr(c, "tracking", on), initial=c.tracking)
        commands.register("snapshot", lambda _: setattr(c, "snapshot_requested", True))
        if pipeline.reps is not None:
            pipeline.reps.register_commands(commands)


def with_overrides(config: AppConfig, source: str | None) -> AppConfig:
    if source:
        return replace(config, source=replace(config.source, uri=source))
    return config

