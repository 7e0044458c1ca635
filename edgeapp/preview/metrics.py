"""``/metrics``: the MQTT ``stats`` figures in the Prometheus text format.

A custom collector reads the pipeline (and the MQTT publisher, if any) at scrape
time, so nothing is updated from the frame loop and the figures are exactly those
of ``Pipeline.stats_event()``. Each server owns its ``CollectorRegistry``: the
global default registry would make two pipelines in one process collide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

if TYPE_CHECKING:
    from edgeapp.preview.state import PipelineView

PREFIX = "edgeapp"


class PipelineCollector:
    """``pipeline``: a ``Pipeline``; ``mqtt_stats``: the publisher's ``stats`` (None without MQTT);
    ``preview``: a callable giving the preview's own ``{"viewers", "frames_rendered", "render_cpu_s"}``."""

    def __init__(self, pipeline: PipelineView, mqtt_stats: Callable | None = None, preview: Callable[[], dict] | None = None):
        self.pipeline = pipeline
        self.mqtt_stats = mqtt_stats
        self.preview = preview

    def describe(self) -> list[Metric]:
        return []  # computed at scrape time; nothing to check for name clashes up front

    def collect(self) -> Iterator[Metric]:
        s = self.pipeline.stats_event()
        yield _gauge("uptime_seconds", "Seconds since the pipeline was built", s.uptime_s)
        yield _gauge("fps", "Frames per second through the frame loop (recent window; NaN before two frames)",
                     float("nan") if s.fps is None else s.fps)
        yield _counter("frames", "Frames processed", self.pipeline.stats.frames)
        yield _counter("dropped_frames", "Camera frames replaced before the frame loop took them", s.dropped_frames)
        invoke = GaugeMetricFamily(f"{PREFIX}_model_invoke_seconds",
                                   "Model invoke latency over the recent window, by model and quantile",
                                   labels=["model", "quantile"])
        for model, summary in s.models.items():
            invoke.add_metric([model, "0.5"], summary["p50_ms"] / 1000.0)
            invoke.add_metric([model, "0.95"], summary["p95_ms"] / 1000.0)
        yield invoke
        info = InfoMetricFamily(f"{PREFIX}_backend", "The main model's backend")
        info.add_metric([], {"backend": s.backend or "none"})
        yield info
        yield _gauge("fallback", "1 when any model runs on a fallback backend (Edge TPU lost)", int(bool(s.fallback)))
        if s.camera is not None:
            yield _gauge("camera_up", "1 while the camera delivers frames, 0 while it is down (or not yet up)",
                         int(s.camera["state"] == "up"))
            yield _counter("camera_outages", "Times the camera went down", s.camera["outages"])
            yield _counter("camera_reconnects", "Times the camera came back after an outage", s.camera["reconnects"])
            yield _counter("camera_bad_frames", "Frames that failed to arrive or decode", s.camera["bad_frames"])
        if s.cpu_temp_c is not None:
            yield _gauge("cpu_temperature_celsius", "SoC temperature", s.cpu_temp_c)
        if self.mqtt_stats is not None:
            m = self.mqtt_stats()
            yield _gauge("mqtt_connected", "1 while connected to the broker", int(m.connected))
            yield _gauge("mqtt_outbox_depth", "Events in the durable outbox, not yet acknowledged", m.outbox_depth)
            yield _gauge("mqtt_outbox_bytes", "Bytes in the durable outbox", m.outbox_bytes)
            yield _counter("mqtt_outbox_dropped", "Events removed unacknowledged to keep the outbox bounded",
                           m.outbox_dropped)
            yield _counter("mqtt_handoff_dropped", "Events dropped because the publisher's queue was full",
                           m.handoff_dropped)
            yield _counter("mqtt_delivered", "Events acknowledged by the broker", m.delivered)
            yield _counter("mqtt_lost", "Events the outbox could not store (a damaged file, or unreadable when the disk failed); their seqs are a gap",
                           m.lost)
            yield _counter("mqtt_store_errors", "Outbox writes that failed", m.store_errors)
            yield _gauge("mqtt_store_failing", "1 while the outbox cannot store events", int(m.store_failing))
            yield _gauge("mqtt_outbox_in_memory", "1 while events wait in memory: the outbox file cannot be opened",
                         int(m.outbox_in_memory))
            yield _counter("mqtt_encode_errors", "Events that could not be encoded", m.encode_errors)
            yield _counter("mqtt_errors_suppressed", "Error events held back by the 20-a-second budget",
                           m.errors_suppressed)
        if self.preview is not None:
            p = self.preview()
            yield _gauge("preview_viewers", "Connected /stream.mjpg viewers", p["viewers"])
            yield _counter("preview_frames_rendered", "Preview frames drawn and encoded", p["frames_rendered"])
            yield _counter("preview_render_cpu_seconds", "CPU time spent drawing and encoding preview frames",
                           p["render_cpu_s"])


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)  # exposed with the _total suffix


def new_registry(collector: PipelineCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
