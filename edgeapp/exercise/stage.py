"""The per-frame repetition stage: smoothed keypoints -> signal -> counter, per person.

::

    stage = RepsStage(ExerciseLibrary.with_user(config.exercise), config.reps)
    for frame in frames:
        pose = smoother.pose(raw, frame.time)               # the pose stage's One Euro (PoseSmoother)
        result = stage.update(pose, frame.time)            # pose: Pose or None (nobody)
        result.count, result.phase, result.signal
        for event in result.events: ...                     # Rep, RepRejected, SetEnded
    stage.finish(last_time)                                 # set_ended for an open set

The count belongs to a person: ``person`` is the track id when the pipeline follows several people
(``None`` for the single-pose path). Each person has their own chosen side and counter; their
keypoints come smoothed by the pose stage, which filters each person once a frame for every consumer.
``request`` may be called from another thread (an MQTT command); the switch happens on the owner's
next ``update``, so the counters are only ever touched by one thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from edgeapp.exercise.config import ExerciseLibrary, RepsConfig
from edgeapp.exercise.counter import CounterEvent, RepCounter
from edgeapp.exercise.signal import SignalReader
from edgeapp.pose.keypoint import Pose

_KEEP = object()  # request(): restart the current exercise


@dataclass(frozen=True)
class RepsResult:
    exercise: str
    person: int | None
    count: int
    set_reps: int
    phase: str | None  # up, down, or None before the first zone is reached
    signal: float | None  # None: the needed joints are not visible
    side: str | None
    events: tuple[CounterEvent, ...]

    def to_dict(self, digits: int = 2) -> dict[str, Any]:
        return {"exercise": self.exercise, "person": self.person, "reps": self.count, "set_reps": self.set_reps,
                "phase": self.phase, "signal": None if self.signal is None else round(self.signal, digits),
                "side": self.side, "events": [e.to_dict() for e in self.events]}


class _Person:
    def __init__(self, counter: RepCounter):
        self.counter = counter
        self.side: str | None = None
        self.seen_at = float("-inf")


class RepsStage:
    """Repetitions of one exercise for everyone in view. One worker thread owns it."""

    def __init__(self, library: ExerciseLibrary, config: RepsConfig, exercise: str | None = None):
        self.library = library
        self.config = config
        self.name = exercise or config.exercise
        self.exercise = library.get(self.name)
        self._reader = SignalReader(self.exercise, config.min_score)
        self._people: dict[int | None, _Person] = {}
        self._pending: Any = None

    def request(self, exercise: str | None = None) -> str:
        """Switch to ``exercise`` (None: the current one) with every count at 0, from any thread.
        Raises ValueError for a name the device does not know; returns the name switched to."""
        if exercise is not None and exercise not in self.library.exercises:
            raise ValueError(f"unknown exercise {exercise!r}; known: {', '.join(self.library.names)}")
        self._pending = _KEEP if exercise is None else exercise
        return exercise or self.name

    def update(self, pose: Pose | None, time: float, person: int | None = None) -> RepsResult:
        """One frame of one person (``pose`` None: nobody in view): the single-pose path, which never
        switches (what a switch ends comes from :meth:`update_people`)."""
        return self.update_people({person: pose}, time)[0]

    def update_people(self, poses: Mapping[int | None, Pose | None], time: float) -> list[RepsResult]:
        """One frame of everyone in view, by track id: a result per person given, in order; then one for
        each person no longer given whose counter had something to say (a set that ended); then, after a
        switch or reset, one per person whose set it ended, under the exercise it was."""
        before, ended = self.name, self._apply_pending(time)
        self._identify(poses, time)
        results = [self._one(pose, time, person) for person, pose in poses.items()]
        if len(self._people) > len(poses):  # people out of view: their sets may end, their tracks may be over
            for person in [k for k in self._people if k not in poses]:
                r = self._one(None, time, person)
                if r.events:
                    results.append(r)
            self._forget_absent(time, poses)
        results += [RepsResult(before, person, 0, 0, None, None, None, events) for person, events in ended.items()]
        return results

    def _identify(self, poses: Mapping[int | None, Pose | None], time: float) -> None:
        """Someone seen without an id (before the tracker confirmed them) who is now tracked: the first new
        track id seen within ``lost_s`` takes over that counter, so the rep in progress is not lost."""
        anonymous = self._people.get(None)
        if anonymous is None or None in poses or time - anonymous.seen_at > self.config.lost_s:
            return
        new = next((k for k, pose in poses.items() if k is not None and pose is not None and k not in self._people),
                   None)
        if new is not None:
            self._people[new] = self._people.pop(None)

    def _one(self, pose: Pose | None, time: float, person: int | None) -> RepsResult:
        p = self._people.get(person)
        if p is None:
            p = self._people[person] = _Person(RepCounter(self.config.limits(self.exercise)))
        value = None
        if pose is not None:
            p.seen_at = time
            reading = self._reader.read(pose.xy.tolist(), pose.scores.tolist(), p.side, p.counter.moving,
                                        pose.frame_size)
            value, p.side = reading.value, reading.side or p.side
        events = p.counter.update(value, time)
        state = p.counter.state
        return RepsResult(self.name, person, state.count, state.set_reps, state.phase, value,
                          p.side if value is not None else None, events)

    def finish(self, time: float, reason: str = "finished") -> dict[int | None, tuple[CounterEvent, ...]]:
        """Close everyone's open set (end of stream, stop); counts are kept."""
        return {person: ev for person, p in self._people.items() if (ev := p.counter.finish(time, reason))}

    def _apply_pending(self, time: float) -> dict[int | None, tuple[CounterEvent, ...]]:
        pending, self._pending = self._pending, None
        if pending is None:
            return {}
        ended = self.finish(time, "reset")
        if pending is not _KEEP:
            self.name, self.exercise = pending, self.library.get(pending)
            self._reader = SignalReader(self.exercise, self.config.min_score)
        self._people = {}
        return ended

    def _forget_absent(self, time: float, present: Mapping) -> None:
        """Tracked people gone for a set pause with no open set: their track has ended."""
        limit = self.config.set_pause_s
        gone = [k for k, p in self._people.items()
                if k is not None and k not in present and time - p.seen_at > limit and not p.counter.state.set_reps]
        for k in gone:
            del self._people[k]
