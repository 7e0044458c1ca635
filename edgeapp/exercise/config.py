"""The ``[reps]`` table and the ``[exercise.<name>]`` definitions of the service configuration.

::

    [reps]
    exercise = "squat"     # squat, pushup, jumping_jack, lunge, or one of your [exercise.<name>]
    min_score = 0.3        # every joint the signal needs must score this much, else the frame is not counted
    lost_s = 1.0           # joints invisible longer than this: the movement in progress is forgotten
    set_pause_s = 10.0     # no rep for this long after the last one: set_ended

    [exercise.wall_push]   # your own exercise; see docs/exercise.md
    signal = "angle"
    joints = ["shoulder", "elbow", "wrist"]
    up = 150.0
    down = 110.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeapp.exercise.counter import CounterLimits
from edgeapp.exercise.definition import BUILTIN, Exercise, exercises_from_table, lookup
from edgeapp.exercise.signal import DEFAULT_MIN_SCORE
from edgeapp.settings import build, require


@dataclass(frozen=True)
class RepsConfig:
    exercise: str = "squat"
    min_score: float = DEFAULT_MIN_SCORE
    # 1 s: MoveNet loses a joint for a few frames when a limb crosses the body; a longer gap could hide
    # a whole direction change of a brisk rep, so what was in progress is no longer trusted.
    lost_s: float = 1.0
    # 10 s: well above the pause between two reps of a set (a few seconds) and below the shortest rest
    # between sets that training guidelines give (ACSM: 30 s and more).
    set_pause_s: float = 10.0

    @classmethod
    def from_dict(cls, d: Any, path: str = "reps") -> RepsConfig:
        return build(cls, d, path)

    def check(self, path: str) -> None:
        require(bool(self.exercise), f"{path}.exercise", "must not be empty")
        require(0.0 <= self.min_score <= 1.0, f"{path}.min_score", f"must be between 0 and 1, got {self.min_score}")
        require(0.0 < self.lost_s <= 60.0, f"{path}.lost_s", f"must be in (0, 60] seconds, got {self.lost_s}")
        require(0.0 < self.set_pause_s <= 3600.0, f"{path}.set_pause_s",
                f"must be in (0, 3600] seconds, got {self.set_pause_s}")

    def limits(self, exercise: Exercise) -> CounterLimits:
        return CounterLimits(exercise.up, exercise.down, exercise.rest, exercise.min_rep_s, exercise.max_rep_s,
                             self.lost_s, self.set_pause_s)


@dataclass(frozen=True)
class ExerciseLibrary:
    """Every exercise the device knows: the built-ins and the config's ``[exercise.<name>]`` tables."""

    exercises: dict[str, Exercise] = field(default_factory=lambda: dict(BUILTIN))

    @classmethod
    def from_dict(cls, d: Any, path: str = "exercise") -> ExerciseLibrary:
        return cls(exercises_from_table(d, path))

    def get(self, name: str, path: str = "reps.exercise") -> Exercise:
        return lookup(self.exercises, name, path)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.exercises))
