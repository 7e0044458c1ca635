"""Errors the device wants the fleet to see (rejected commands, encoding failures...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeapp.events.base import Event, check_text


@dataclass(frozen=True, kw_only=True)
class ErrorEvent(Event):
    """``source`` is what failed (``command``, ``publisher``, a pipeline stage), ``message`` is
    the sentence a person reads, ``detail`` carries machine-readable context."""

    kind = "error"
    source: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_text(self.kind, "source", self.source)
        check_text(self.kind, "message", self.message)
