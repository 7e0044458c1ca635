"""Stable pose labels and hold timing, from per-frame labels that flicker.

Per frame, :meth:`HoldTimer.update` takes the winning label (or None: no person,
no confident pose) and the **frame time** (media time for files, the capture clock
for cameras; never the wall clock while processing, or a file processed faster or
slower than real time would give wrong holds).

* A label becomes *current* only after it has won ``confirm_frames`` frames in a row
  spanning at least ``confirm_s`` seconds (set either to 0 to use only the other).
  The hold is then counted from the first frame of that run.
* The current pose *ends* when it has not won for ``release_frames`` frames in a row
  spanning ``release_s`` seconds, or at once when another label is confirmed.
  A single flickering frame therefore neither ends the pose nor starts another.
* ``held_s`` is from the first to the last frame the current label won, so the
  frames after the person left the pose are never counted.

Results are plain dataclasses; the MQTT layer turns them into events:
:class:`PoseStarted`, :class:`PoseHeld` (each time ``held_s`` reaches another
multiple of ``milestone_s``), :class:`PoseEnded` (with the total hold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgeapp.settings import Problems
from typing import Union

# Frame times are sums of 1/fps steps: 5.1 - 0.1 is 4.999999... and must still reach 5 s.
_EPS = 1e-6


@dataclass(frozen=True)
class HoldConfig:
    confirm_frames: int = 3  # a pose becomes current after winning this many frames...
    confirm_s: float = 0.5  # ...and for this long (frame time)
    release_frames: int = 3  # a current pose ends after losing this many frames...
    release_s: float = 1.0  # ...and for this long
    milestone_s: float = 5.0  # 0 disables PoseHeld

    def check(self, problems: Problems) -> None:
        for name in ("confirm_frames", "release_frames"):
            v = getattr(self, name)
            problems.require(0 <= v <= 10_000, name, f"must be a whole number from 0 to 10000, got {v!r}")
        for name in ("confirm_s", "release_s", "milestone_s"):
            v = getattr(self, name)
            problems.require(0 <= v <= 86_400, name, f"must be a number of seconds from 0 to 86400, got {v!r}")


@dataclass(frozen=True)
class PoseStarted:
    label: str
    time: float  # frame time at which the label was confirmed
    started_at: float  # frame time of the first frame of the winning run
    held_s: float  # already held when confirmed

    kind = "started"

    def to_dict(self, digits: int = 3) -> dict:
        return {"type": self.kind, "label": self.label, "time": round(self.time, digits),
                "started_at": round(self.started_at, digits), "held_s": round(self.held_s, digits)}


@dataclass(frozen=True)
class PoseHeld:
    label: str
    time: float
    started_at: float
    held_s: float
    milestone_s: float  # the multiple of HoldConfig.milestone_s just reached

    kind = "held"

    def to_dict(self, digits: int = 3) -> dict:
        return {"type": self.kind, "label": self.label, "time": round(self.time, digits),
                "started_at": round(self.started_at, digits), "held_s": round(self.held_s, digits),
                "milestone_s": round(self.milestone_s, digits)}


@dataclass(frozen=True)
class PoseEnded:
    label: str
    time: float  # frame time at which the end was decided
    started_at: float
    ended_at: float  # last frame time the label won
    held_s: float  # total hold: ended_at - started_at
    reason: str  # "lost" (released), "changed" (another pose confirmed), "finished" (stream end / reset)

    kind = "ended"

    def to_dict(self, digits: int = 3) -> dict:
        return {"type": self.kind, "label": self.label, "time": round(self.time, digits),
                "started_at": round(self.started_at, digits), "ended_at": round(self.ended_at, digits),
                "held_s": round(self.held_s, digits), "reason": self.reason}


HoldEvent = Union[PoseStarted, PoseHeld, PoseEnded]


@dataclass(frozen=True)
class HoldState:
    """The stable view after a frame: the current pose (or None) and how long it has been held."""

    current: str | None
    held_s: float
    started_at: float | None
    candidate: str | None  # a label winning but not confirmed yet
    candidate_frames: int

    def to_dict(self, digits: int = 3) -> dict:
        return {"current": self.current, "held_s": round(self.held_s, digits),
                "started_at": None if self.started_at is None else round(self.started_at, digits),
                "candidate": self.candidate, "candidate_frames": self.candidate_frames}


_NO_EVENTS: tuple[HoldEvent, ...] = ()


class HoldTimer:
    """Hysteresis and hold timing for one person's stream of labels. Not thread-safe."""

    def __init__(self, config: HoldConfig | None = None):
        self.config = config or HoldConfig()
        self.reset()

    def reset(self) -> None:
        self._current: str | None = None
        self._started_at = 0.0
        self._last_won = 0.0
        self._next_milestone = 0.0
        # The run of frames of the latest winner that is not the current label.
        self._candidate: str | None = None
        self._cand_first = 0.0
        self._cand_frames = 0
        # The run of frames in which the current label did not win.
        self._miss_first = 0.0
        self._miss_frames = 0
        self._last_time: float | None = None

    @property
    def state(self) -> HoldState:
        if self._current is None:
            return HoldState(None, 0.0, None, self._candidate, self._cand_frames)
        return HoldState(self._current, self._last_won - self._started_at, self._started_at,
                         self._candidate, self._cand_frames)

    def update(self, label: str | None, time: float) -> tuple[HoldEvent, ...]:
        """Feed one frame; returns the events it caused (usually none)."""
        events: list[HoldEvent] | tuple[HoldEvent, ...] = _NO_EVENTS
        if self._last_time is not None and time < self._last_time:
            # A new clip or a clock jump: what was held cannot be carried across.
            events = list(self.finish(self._last_time))
        self._last_time = time
        cfg = self.config

        if label is not None and label == self._current:
            self._last_won = time
            self._miss_frames = 0
            self._candidate, self._cand_frames = None, 0
            return self._milestone(time, events)

        # The current label (if any) did not win this frame.
        if self._current is not None:
            if self._miss_frames == 0:
                self._miss_first = time
            self._miss_frames += 1

        if label is None:
            self._candidate, self._cand_frames = None, 0
        elif label == self._candidate:
            self._cand_frames += 1
        else:
            self._candidate, self._cand_first, self._cand_frames = label, time, 1

        if (self._candidate is not None and self._cand_frames >= cfg.confirm_frames
                and time - self._cand_first >= cfg.confirm_s - _EPS):
            events = list(events)
            if self._current is not None:
                events.append(self._end(time, "changed"))
            self._current, self._started_at, self._last_won = self._candidate, self._cand_first, time
            self._candidate, self._cand_frames, self._miss_frames = None, 0, 0
            self._next_milestone = cfg.milestone_s
            events.append(PoseStarted(self._current, time, self._started_at, time - self._started_at))
            return self._milestone(time, events)

        if (self._current is not None and self._miss_frames >= cfg.release_frames
                and time - self._miss_first >= cfg.release_s - _EPS):
            events = [*events, self._end(time, "lost")]
        return tuple(events)

    def finish(self, time: float | None = None) -> tuple[HoldEvent, ...]:
        """End the current pose (end of stream, source change); the tracker starts afresh."""
        ended: tuple[HoldEvent, ...] = _NO_EVENTS
        if self._current is not None:
            ended = (self._end(self._last_won if time is None else time, "finished"),)
        self.reset()
        return ended

    def _end(self, time: float, reason: str) -> PoseEnded:
        ev = PoseEnded(self._current, time, self._started_at, self._last_won, self._last_won - self._started_at, reason)
        self._current = None
        self._miss_frames = 0
        return ev

    def _milestone(self, time: float, events) -> tuple[HoldEvent, ...]:
        every = self.config.milestone_s
        if every <= 0 or self._current is None:
            return tuple(events)
        held = self._last_won - self._started_at
        if held + _EPS < self._next_milestone:
            return tuple(events)
        # One event for the highest milestone reached, even if a gap in frames skipped some.
        reached = math.floor((held + _EPS) / every) * every
        self._next_milestone = reached + every
        return (*events, PoseHeld(self._current, time, self._started_at, held, reached))
