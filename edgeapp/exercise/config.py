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
from typing import Mapping

from edgeapp.errors import ConfigError
from edgeapp.exercise.counter import CounterLimits
from edgeapp.exercise.definition import BUILTIN, Exercise, check_names
from edgeapp.exercise.signal import DEFAULT_MIN_SCORE
from edgeapp.settings import Problems


@dataclass(frozen=True)
class RepsConfig:
    exercise: str = "squat"  # a built-in (squat, pushup, jumping_jack, lunge) or an [exercise.<name>]
    min_score: float = DEFAULT_MIN_SCORE  # every joint the signal needs must score this much (TF.js demo's 0.3)
    # 1 s: MoveNet loses a joint for a few frames when a limb crosses the body; a longer gap could hide
    # a whole direction change of a brisk rep, so what was in progress is no longer trusted.
    lost_s: float = 1.0  # joints unseen longer than this: the rep in progress is forgotten
    # 10 s: well above the pause between two reps of a set (a few seconds) and below the shortest rest
    # between sets that training guidelines give (ACSM: 30 s and more).
    set_pause_s: float = 10.0  # no rep for this long after the last one: set_ended

    def check(self, problems: Problems) -> None:
        problems.require(bool(self.exercise), "exercise", "must not be empty")
        problems.require(0.0 <= self.min_score <= 1.0, "min_score", f"must be between 0 and 1, got {self.min_score}")
        problems.require(0.0 < self.lost_s <= 60.0, "lost_s", f"must be in (0, 60] seconds, got {self.lost_s}")
        problems.require(0.0 < self.set_pause_s <= 3600.0, "set_pause_s",
                         f"must be in (0, 3600] seconds, got {self.set_pause_s}")

    def limits(self, exercise: Exercise) -> CounterLimits:
        return CounterLimits(exercise.up, exercise.down, exercise.rest, exercise.min_rep_s, exercise.max_rep_s,
                             self.lost_s, self.set_pause_s)


@dataclass(frozen=True)
class ExerciseLibrary:
    """Every exercise the device knows: the built-ins, and the user's ``[exercise.<name>]`` added or replacing."""

    exercises: dict[str, Exercise] = field(default_factory=lambda: dict(BUILTIN))

    @classmethod
    def with_user(cls, user: Mapping[str, Exercise] | None) -> ExerciseLibrary:
        return cls({**BUILTIN, **(user or {})})

    def get(self, name: str, path: str = "reps.exercise") -> Exercise:
        """The exercise called ``name``; a ConfigError at ``path`` naming the known ones otherwise."""
        if name not in self.exercises:
            raise ConfigError(path, f"unknown exercise {name!r}; known: {', '.join(self.names)}")
        return self.exercises[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.exercises))


def check_reps(problems: Problems, reps: RepsConfig, user: Mapping[str, Exercise]) -> None:
    """The rules across ``[reps]`` and ``[exercise.*]``: names are plain words, and the exercise exists."""
    check_names(problems, user)
    library = ExerciseLibrary.with_user(user)
    problems.require(reps.exercise in library.exercises, "reps.exercise",
                     f"unknown exercise {reps.exercise!r}; known: {', '.join(library.names)}")


@dataclass(frozen=True)
class RepsFile:
    """The ``[reps]`` and ``[exercise.<name>]`` tables of a file (``edgeapp infer reps --config``)."""

    reps: RepsConfig = field(default_factory=RepsConfig)
    exercise: dict[str, Exercise] = field(default_factory=dict)

    def check(self, problems: Problems) -> None:
        check_reps(problems, self.reps, self.exercise)

    @property
    def library(self) -> ExerciseLibrary:
        return ExerciseLibrary.with_user(self.exercise)
