"""Detection events, Frigate style: one message per change of a tracked object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeapp.events.base import Event, EventError, check_choice

DETECTION_TYPES = ("new", "update", "end")
REQUIRED_OBJECT_KEYS = ("id", "label")


@dataclass(frozen=True, kw_only=True)
class DetectionEvent(Event):
    """``after`` is the object now, ``before`` as it was in the previous message (the same as
    ``after`` for ``new``, as Frigate sends it). Objects are plain dicts; ``id`` and ``label`` are
    required, the rest (score, box, start_time, end_time, ...) is the detector's to define."""

    kind = "detection"
    type: str
    before: dict[str, Any] = field(default=None)  # type: ignore[assignment]
    after: dict[str, Any]

    def __post_init__(self) -> None:
        check_choice(self.kind, "type", self.type, DETECTION_TYPES)
        if self.before is None:
            if self.type != "new":
                raise EventError(f"detection event: {self.type} needs the object as it was before")
            object.__setattr__(self, "before", self.after)
        for name in ("before", "after"):
            obj = getattr(self, name)
            if not isinstance(obj, dict) or any(k not in obj for k in REQUIRED_OBJECT_KEYS):
                raise EventError(f"detection event: {name} must be a dict with {', '.join(REQUIRED_OBJECT_KEYS)}")
