"""Exercise repetition events: each counted ``rep``, and ``set_ended`` after a pause."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeapp.events.base import Event, EventError, check_choice, check_number, check_text

REP_TYPES = ("rep", "set_ended")
SET_END_REASONS = ("pause", "reset", "finished")


@dataclass(frozen=True, kw_only=True)
class RepEvent(Event):
    """``count`` is the person's reps of ``exercise`` since the start or the last reset (what a counter
    shows); ``set_reps`` the rep's number in its set, or for ``set_ended`` the reps in the set. Times
    other than ``ts`` are frame times. ``depth`` is the signal at the far end of the rep (the knee angle
    at the bottom of a squat, in ``units``); ``down_s``/``up_s`` are the tempo. ``person`` is the
    track id when several people are followed, else null."""

    kind = "rep"
    type: str
    exercise: str
    count: int
    set_reps: int
    frame_time: float
    started_at: float
    ended_at: float
    duration_s: float
    depth: float | None = None  # rep only
    range: float | None = None  # rep only
    down_s: float | None = None  # rep only
    up_s: float | None = None  # rep only
    units: str | None = None  # rep only: deg (joint angles) or torso (torso lengths)
    reason: str | None = None  # set_ended only: pause, reset or finished
    person: int | None = None

    def __post_init__(self) -> None:
        check_choice(self.kind, "type", self.type, REP_TYPES)
        check_text(self.kind, "exercise", self.exercise)
        for name in ("count", "set_reps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EventError(f"{self.kind} event: {name} must be a whole number >= 0, got {value!r}")
        for name in ("frame_time", "started_at", "ended_at", "duration_s"):
            check_number(self.kind, name, getattr(self, name))
        for name in ("depth", "range", "down_s", "up_s"):
            check_number(self.kind, name, getattr(self, name), optional=self.type != "rep")
        if self.type == "set_ended":
            check_choice(self.kind, "reason", self.reason, SET_END_REASONS)

    @classmethod
    def from_counter(cls, event: Any, exercise: str, units: str, time: float, person: int | None = None,
                     digits: int = 3) -> RepEvent:
        """From the counter's ``Rep`` or ``SetEnded`` (``time``: the frame time it was decided at)."""
        r = lambda v: round(float(v), digits)  # noqa: E731 - numpy floats never reach the payload
        common = dict(exercise=exercise, count=event.count, set_reps=event.set_reps, frame_time=r(time),
                      started_at=r(event.started_at), ended_at=r(event.ended_at), person=person)
        if event.kind == "rep":
            return cls(type="rep", duration_s=r(event.duration_s), depth=r(event.depth), range=r(event.range),
                       down_s=r(event.down_s), up_s=r(event.up_s), units=units, **common)
        return cls(type="set_ended", duration_s=r(event.ended_at - event.started_at), reason=event.reason, **common)
