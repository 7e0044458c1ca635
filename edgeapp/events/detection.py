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

    @classmethod
    def from_track(cls, event, ts: float | None = None) -> DetectionEvent:
        """From the tracker's ``TrackEvent`` (its snapshots become the payload's objects)."""
        extra = {"ts": ts} if ts is not None else {}
        return cls(type=event.type, before=track_json(event.before), after=track_json(event.after), **extra)


def box_json(box, digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in box]


def detection_json(d, digits: int = 4) -> dict[str, Any]:
    """A ``Detection`` as ``edgeapp infer detect`` prints it; ``id`` is its confirmed track, or null."""
    return {"id": d.id, "label": d.label, "label_id": d.label_id, "score": round(d.score, digits),
            "box": box_json(d.box, digits)}


def track_json(t, digits: int = 4) -> dict[str, Any]:
    """A ``TrackSnapshot`` as the detection events carry it."""
    return {
        "id": t.id,
        "label": t.label,
        "label_id": t.label_id,
        "score": round(t.score, digits),
        "top_score": round(t.top_score, digits),
        "box": box_json(t.box, digits),
        "start_frame": t.start_frame,
        "start_time": round(t.start_time, 3),
        "last_frame": t.last_frame,
        "frame_time": round(t.frame_time, 3),
        "end_time": None if t.end_time is None else round(t.end_time, 3),
        "hits": t.hits,
        "active": t.active,
    }
