"""The periodic health report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeapp.events.base import Event, check_number, check_text

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


@dataclass(frozen=True, kw_only=True)
class StatsEvent(Event):
    """``models`` maps a model name to its invoke latency ``{"p50_ms", "p95_ms"}`` (a
    ``LatencySummary`` is accepted and converted). ``mqtt`` is filled in by the publisher
    (outbox depth and drops, hand-off drops) when left None."""

    kind = "stats"
    uptime_s: float
    fps: float | None = None
    models: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None
    fallback: bool | None = None
    dropped_frames: int = 0
    cpu_temp_c: float | None = None
    mqtt: dict[str, Any] | None = None
    camera: dict[str, Any] | None = None  # CameraStatus.as_dict(): state up|down|starting, outages, last_error...

    def __post_init__(self) -> None:
        check_number(self.kind, "uptime_s", self.uptime_s)
        check_number(self.kind, "fps", self.fps, optional=True)
        check_number(self.kind, "cpu_temp_c", self.cpu_temp_c, optional=True)
        check_number(self.kind, "dropped_frames", self.dropped_frames)
        check_text(self.kind, "backend", self.backend, optional=True)
        models = {name: (s.as_dict() if hasattr(s, "as_dict") else dict(s)) for name, s in self.models.items()}
        object.__setattr__(self, "models", models)


def cpu_temperature(zone: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature in °C where the kernel exposes it (a Pi does; containers often don't)."""
    try:
        return round(int(zone.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None
