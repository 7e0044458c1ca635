"""Exercise repetitions: definitions as data, the signal per frame, a counter over floats, the stage."""

from edgeapp.exercise.config import ExerciseLibrary, RepsConfig
from edgeapp.exercise.counter import CounterLimits, Rep, RepCounter, RepRejected, SetEnded
from edgeapp.exercise.definition import BUILTIN, Exercise
from edgeapp.exercise.stage import RepsResult, RepsStage

__all__ = ["BUILTIN", "CounterLimits", "Exercise", "ExerciseLibrary", "Rep", "RepCounter", "RepRejected",
           "RepsConfig", "RepsResult", "RepsStage", "SetEnded"]
