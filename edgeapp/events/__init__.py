"""Typed events published over MQTT, and their JSON payloads (see docs/events.md).

Producers build events from plain values and hand them to the publisher; the
publisher adds the envelope (schema version, device, seq, timestamp).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from edgeapp.events.base import ENVELOPE_KEYS, SCHEMA_VERSION, Event, EventError, encode, envelope
from edgeapp.events.detection import DetectionEvent
from edgeapp.events.error import ErrorEvent
from edgeapp.events.pose import PoseClassEvent, PoseEvent
from edgeapp.events.rep import RepEvent
from edgeapp.events.stats import StatsEvent, cpu_temperature
from edgeapp.events.tracking import TrackingEvent

EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (PoseEvent, PoseClassEvent, DetectionEvent, TrackingEvent, StatsEvent, ErrorEvent,
                            RepEvent)
}


@dataclass(frozen=True)
class Received:
    """A decoded payload: the envelope's device and seq, and the event itself."""

    device: str
    seq: int
    event: Event


def decode(payload: bytes | str) -> Received:
    """Parse a payload back into its event; raises EventError naming what is off."""
    try:
        d = json.loads(payload)
    except ValueError as exc:
        raise EventError(f"payload is not JSON: {exc}") from None
    if not isinstance(d, dict) or any(k not in d for k in ENVELOPE_KEYS):
        raise EventError(f"payload lacks the envelope keys {list(ENVELOPE_KEYS)}")
    if d["schema"] != SCHEMA_VERSION:
        raise EventError(f"schema {d['schema']!r} is not {SCHEMA_VERSION}")
    cls = EVENT_TYPES.get(d["event"])
    if cls is None:
        raise EventError(f"unknown event kind {d['event']!r}")
    body = {k: v for k, v in d.items() if k not in ENVELOPE_KEYS}
    return Received(d["device"], d["seq"], cls.from_body(body, ts=d["ts"]))


__all__ = [
    "SCHEMA_VERSION", "EVENT_TYPES", "Event", "EventError", "Received", "encode", "decode", "envelope",
    "PoseEvent", "PoseClassEvent", "DetectionEvent", "TrackingEvent", "StatsEvent", "ErrorEvent", "RepEvent",
    "cpu_temperature",
]
