"""Pan/tilt tracking events."""

from __future__ import annotations

from dataclasses import dataclass

from edgeapp.events.base import Event, check_choice, check_number, check_text

TRACKING_TYPES = ("acquired", "lost", "returned_home", "angles")


@dataclass(frozen=True, kw_only=True)
class TrackingEvent(Event):
    """The tracker's state changed (``acquired``, ``lost``, ``returned_home``) or, for ``angles``,
    where the head points now. Angles are degrees, 0/0 is home."""

    kind = "tracking"
    type: str
    pan: float
    tilt: float
    target: str | None = None  # what is followed: "person", a detection id, ...

    def __post_init__(self) -> None:
        check_choice(self.kind, "type", self.type, TRACKING_TYPES)
        check_number(self.kind, "pan", self.pan)
        check_number(self.kind, "tilt", self.tilt)
        check_text(self.kind, "target", self.target, optional=True)
