"""The envelope every MQTT event shares, and the base class of the typed events.

An event is built by a producer (pose pipeline, classifier, detector, tracker) from
plain values. It has no ``seq`` and no ``device`` yet: the publisher stamps both when
the event is written to the outbox, so that ``seq`` is assigned in exactly one place
and in the same transaction that makes the event durable.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

SCHEMA_VERSION = 1
ENVELOPE_KEYS = ("schema", "event", "device", "seq", "ts")


class EventError(ValueError):
    """An event or a payload does not follow the documented schema."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events. ``ts`` is wall-clock Unix time of when it happened (not when sent)."""

    kind: ClassVar[str] = ""
    ts: float = field(default_factory=time.time)

    def body(self) -> dict[str, Any]:
        """The kind-specific fields: by default every dataclass field but ``ts``, as given."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ts"}

    @classmethod
    def from_body(cls, body: dict[str, Any], ts: float) -> Event:
        known = {f.name for f in fields(cls)} - {"ts"}
        unknown = set(body) - known
        if unknown:
            raise EventError(f"{cls.kind} event: unknown fields {sorted(unknown)}")
        try:
            return cls(**body, ts=ts)
        except TypeError as exc:  # a missing required field
            raise EventError(f"{cls.kind} event: {exc}") from None


def envelope(event: Event, device: str, seq: int) -> dict[str, Any]:
    return {"schema": SCHEMA_VERSION, "event": event.kind, "device": device, "seq": seq,
            "ts": event.ts, **event.body()}


def encode(event: Event, device: str, seq: int) -> bytes:
    """Compact JSON. NaN and infinity are refused: they are not JSON and consumers choke on them."""
    return json.dumps(envelope(event, device, seq), separators=(",", ":"), allow_nan=False,
                      default=_plain).encode()


def _plain(value: Any) -> Any:
    # numpy scalars and arrays reach us from the pipelines; everything else is a bug to surface.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --- validation helpers shared by the event classes ---------------------------------

def check_choice(kind: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise EventError(f"{kind} event: {name} must be one of {', '.join(choices)}, got {value!r}")


def check_number(kind: str, name: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise EventError(f"{kind} event: {name} must be a finite number, got {value!r}")


def check_text(kind: str, name: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise EventError(f"{kind} event: {name} must be a non-empty string, got {value!r}")
