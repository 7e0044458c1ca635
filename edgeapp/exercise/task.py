"""The service's repetition task: the stage, its events out, and its MQTT commands in.

The pipeline makes one when ``tasks.reps`` is on and calls :meth:`RepsTask.update` once per frame on
its finishing worker; counted reps and ended sets go out as ``rep`` events. The ``exercise`` command
switches the exercise, ``reps_reset`` restarts the count; both are applied on the next frame by the
worker that owns the counters.
"""

from __future__ import annotations

from typing import Callable, Mapping

from edgeapp.events.rep import RepEvent
from edgeapp.exercise.config import ExerciseLibrary, RepsConfig
from edgeapp.exercise.stage import RepsResult, RepsStage
from edgeapp.pose.keypoint import Pose


class RepsTask:
    def __init__(self, config: RepsConfig, library: ExerciseLibrary, emit: Callable[[RepEvent], None]):
        self.stage = RepsStage(library, config)
        self._emit = emit

    @classmethod
    def from_config(cls, config, emit: Callable[[RepEvent], None]) -> RepsTask:
        """From the service's ``AppConfig``: its ``[reps]`` and ``[exercise.*]`` tables."""
        return cls(config.reps, ExerciseLibrary.with_user(config.exercise), emit)

    def update_frame(self, result) -> RepsResult:
        """A finished frame: per person (track id) when the pipeline followed people (``result.people``, a list
        with ``id`` and ``pose``), else the single pose. Returns the first person's result, whose pose the
        preview draws."""
        people = getattr(result, "people", None)
        if people:
            return self.update_people({p.id: p.pose for p in people}, result.frame.time)[0]
        return self.update(result.pose, result.frame.time)

    def update(self, pose: Pose | None, time: float) -> RepsResult:
        """The single-pose path: the count belongs to whoever is in view (person None)."""
        return self.update_people({None: pose}, time)[0]  # the first result is the person's own

    def update_people(self, poses: Mapping[int | None, Pose | None], time: float) -> list[RepsResult]:
        """Several tracked people: the count belongs to the track id."""
        results = self.stage.update_people(poses, time)
        for r in results:
            self._publish(r.events, r.exercise, time, r.person)
        return results

    def close(self, time: float) -> None:
        """The stream ends: open sets end (``finished``)."""
        for person, events in self.stage.finish(time).items():
            self._publish(events, self.stage.name, time, person)

    def _publish(self, events, exercise: str, time: float, person: int | None) -> None:
        units = self.stage.exercise.units
        for e in events:
            if e.kind in ("rep", "set_ended"):  # a rejected movement is for the CLI's eyes only
                self._emit(RepEvent.from_counter(e, exercise, units, time, person))

    def register_commands(self, commands) -> None:
        """``exercise/set NAME`` switches and restarts the count; ``reps_reset/set PRESS`` restarts it."""
        from edgeapp.mqtt.commands import CommandRejected

        def switch(name: str) -> str:
            try:
                return self.stage.request(name)
            except ValueError as exc:
                raise CommandRejected(str(exc)) from None

        commands.register("exercise", switch, initial=self.stage.name)
        commands.register("reps_reset", lambda _press: self.stage.request(None) and None)
