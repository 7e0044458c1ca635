"""Counting repetitions: a state machine over one float per frame and the frame time.

The signal is mirrored internally so that the rest zone is always the high one; for a squat (rest up)
a repetition is:

    rest zone (>= up)  ->  leaves it  ->  reaches the far zone (<= down)  ->  back in the rest zone

* **Hysteresis.** The phase changes only on reaching a zone: jitter around one threshold never
  crosses the other, so it counts nothing.
* **Only what was seen.** A repetition counts only if its start, its far zone and its end were all
  seen. ``None`` (the needed joints not visible) is bridged for up to ``lost_s``; a longer gap
  forgets the movement in progress, so a person who leaves mid-rep and comes back is not credited
  with a rep nobody saw, and one who leaves after a rep cannot be counted twice.
* **Duration limits.** A completed movement shorter than ``min_rep_s`` or longer than ``max_rep_s``
  is reported as rejected, not counted; an excursion that outlasts ``max_rep_s`` is dropped.
* **Measures.** Times are where the signal crossed a threshold, interpolated between frames, so a
  5 fps clip still gives durations finer than 0.2 s. ``depth`` is the signal's extreme in the far
  zone (the knee angle at the bottom of a squat); ``range`` is from the rest peak before the rep
  to that extreme; ``down_s``/``up_s`` are the times the signal fell / rose (tempo).
* **Sets.** ``set_ended`` when ``set_pause_s`` passed after the last rep with no rep in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


Phase = Union[str, None]  # "up", "down" or None (not known yet)


@dataclass(frozen=True)
class CounterLimits:
    up: float
    down: float
    rest: str = "up"
    min_rep_s: float = 0.5
    max_rep_s: float = 20.0
    lost_s: float = 1.0
    set_pause_s: float = 10.0

    def __post_init__(self) -> None:  # definitions are checked where they are read; this guards the code
        if not self.up > self.down:
            raise ValueError(f"up must be above down (up {self.up:g} <= down {self.down:g})")
        if self.rest not in ("up", "down"):
            raise ValueError(f"rest must be up or down, got {self.rest!r}")


@dataclass(frozen=True)
class Rep:
    count: int  # reps since the start or the last reset, this one included
    set_reps: int  # this rep's number in the current set
    started_at: float
    ended_at: float
    duration_s: float
    depth: float  # the signal's extreme in the far zone
    range: float  # from the rest peak before the rep to the extreme, in the signal's units
    down_s: float  # time the signal fell
    up_s: float  # time the signal rose

    kind = "rep"

    def to_dict(self, digits: int = 3) -> dict:
        return {"type": self.kind, "count": self.count, "set_reps": self.set_reps,
                **{k: round(getattr(self, k), digits) for k in
                   ("started_at", "ended_at", "duration_s", "depth", "range", "down_s", "up_s")}}


@dataclass(frozen=True)
class RepRejected:
    started_at: float
    ended_at: float
    duration_s: float
    reason: str  # too_fast, too_slow

    kind = "rejected"

    def to_dict(self, digits: int = 3) -> dict:
        return {"type": self.kind, "reason": self.reason, "started_at": round(self.started_at, digits),
                "ended_at": round(self.ended_at, digits), "duration_s": round(self.duration_s, digits)}


@dataclass(frozen=True)
class SetEnded:
    count: int
    set_reps: int  # reps in the set that ended
    started_at: float  # start of its first rep
    ended_at: float  # end of its last rep
    time: float  # frame time at which the end was decided
    reason: str  # pause, reset, finished

    kind = "set_ended"

    def to_dict(self, digits: int = 3) -> dict:
        return {"type": self.kind, "count": self.count, "set_reps": self.set_reps, "reason": self.reason,
                **{k: round(getattr(self, k), digits) for k in ("started_at", "ended_at", "time")}}


CounterEvent = Union[Rep, RepRejected, SetEnded]
_NONE: tuple = ()


@dataclass(frozen=True)
class CounterState:
    count: int
    phase: Phase
    set_reps: int


class RepCounter:
    """One person's repetitions of one exercise. Not thread-safe; one worker owns it."""

    def __init__(self, limits: CounterLimits):
        self.limits = limits
        self._sign = 1.0 if limits.rest == "up" else -1.0
        # In mirrored units the rest zone is >= hi, the far zone <= lo.
        self._hi = self._sign * (limits.up if limits.rest == "up" else limits.down)
        self._lo = self._sign * (limits.down if limits.rest == "up" else limits.up)
        self.count = 0
        self.reset()

    def reset(self) -> None:
        """A fresh count (a new exercise or an explicit reset)."""
        self.count = 0
        self._set_reps = 0
        self._set_start = self._set_end = 0.0
        self._forget()

    def _forget(self) -> None:
        self._phase: Phase = None  # mirrored: "rest" zone or "far" zone
        self._last: tuple[float, float] | None = None  # (time, mirrored value) of the last reading
        self._start: float | None = None  # when the current excursion left the rest zone
        self._peak = float("-inf")  # highest value while at rest, before the excursion
        self._rest_peak = float("-inf")
        self._far = False  # the excursion reached the far zone
        self._extreme = float("inf")
        self._extreme_at = 0.0

    @property
    def state(self) -> CounterState:
        return CounterState(self.count, self._display_phase(), self._set_reps)

    @property
    def moving(self) -> bool:
        """A repetition is in progress: the signal left the rest zone and has not come back."""
        return self._start is not None

    def _display_phase(self) -> Phase:
        if self._phase is None:
            return None
        rest = self.limits.rest
        return rest if self._phase == "rest" else ("down" if rest == "up" else "up")

    def update(self, value: float | None, time: float) -> tuple[CounterEvent, ...]:
        """Feed one frame's signal (None: not visible) at frame time ``time``; returns what it completed."""
        events: tuple[CounterEvent, ...] = _NONE
        if self._last is not None and time < self._last[0]:
            self._forget()  # a clock that went back (a new clip): nothing in progress carries over
        if value is None:
            if self._last is not None and time - self._last[0] > self.limits.lost_s:
                self._forget()
        else:
            events = self._step(self._sign * value, time)
        return events + self._check_set_end(time)

    def _step(self, v: float, t: float) -> tuple[CounterEvent, ...]:
        last, self._last = self._last, (t, v)
        hi, lo = self._hi, self._lo
        if v >= hi:
            done = self._arrive(last, v, t) if self._phase is not None else _NONE
            if self._phase != "rest" or self._start is not None:
                self._peak = v
            self._phase, self._start, self._far = "rest", None, False
            self._peak = max(self._peak, v)
            return done
        if self._phase == "rest" and self._start is None:  # leaving the rest zone: an excursion begins
            self._start = _crossing(last, (t, v), hi) if last is not None and last[1] >= hi else t
            self._rest_peak = self._peak
            self._extreme = v
            self._extreme_at = t
        if self._start is not None:
            if v < self._extreme:
                self._extreme, self._extreme_at = v, t
            if t - self._start > self.limits.max_rep_s:  # sat down, or stopped half way: not a rep
                self._start, self._far = None, False
                self._phase = "far" if v <= lo else None
                return _NONE
        if v <= lo:
            self._phase = "far"
            self._far = self._start is not None
        return _NONE

    def _arrive(self, last, v: float, t: float) -> tuple[CounterEvent, ...]:
        """Back in the rest zone: a rep if the excursion was seen from start to end and reached the far zone."""
        if self._start is None or not self._far:
            return _NONE
        end = _crossing(last, (t, v), self._hi) if last is not None else t
        start, duration = self._start, end - self._start
        lim = self.limits
        if duration < lim.min_rep_s or duration > lim.max_rep_s:
            reason = "too_fast" if duration < lim.min_rep_s else "too_slow"
            return (RepRejected(start, end, duration, reason),)
        self.count += 1
        if self._set_reps == 0:
            self._set_start = start
        self._set_reps += 1
        self._set_end = end
        extreme = self._sign * self._extreme
        top = self._sign * self._rest_peak
        fell, rose = self._extreme_at - start, end - self._extreme_at
        down_s, up_s = (fell, rose) if self.limits.rest == "up" else (rose, fell)
        return (Rep(self.count, self._set_reps, start, end, duration, extreme, abs(top - extreme), down_s, up_s),)

    def _check_set_end(self, t: float) -> tuple[CounterEvent, ...]:
        if self._set_reps and self._start is None and t - self._set_end >= self.limits.set_pause_s:
            return (self._close_set(t, "pause"),)
        return _NONE

    def _close_set(self, t: float, reason: str) -> SetEnded:
        ended = SetEnded(self.count, self._set_reps, self._set_start, self._set_end, t, reason)
        self._set_reps = 0
        return ended

    def finish(self, time: float, reason: str = "finished") -> tuple[CounterEvent, ...]:
        """The end of the stream (or, with reason ``reset``, of the count): the open set ends. The count
        is kept; the caller drops the counter on a reset."""
        if self._set_reps:
            ended: tuple[CounterEvent, ...] = (self._close_set(time, reason),)
        elif reason == "reset" and self.count:  # no set open, but a counter showing reps must hear of it
            ended = (SetEnded(self.count, 0, time, time, time, reason),)
        else:
            ended = _NONE
        self._forget()
        return ended


def _crossing(a: tuple[float, float], b: tuple[float, float], level: float) -> float:
    """The time at which the line from ``a`` to ``b`` (time, value) passes ``level``."""
    (ta, va), (tb, vb) = a, b
    if va == vb:
        return tb
    f = (level - va) / (vb - va)
    return ta + min(max(f, 0.0), 1.0) * (tb - ta)
