"""Exercise definitions and the [reps] table: what is accepted, and errors that name the key."""

from __future__ import annotations

import pytest

from edgeapp.config import AppConfig
from edgeapp.errors import ConfigError
from edgeapp.exercise import BUILTIN, RepsConfig
from edgeapp.exercise.config import RepsFile
from edgeapp.exercise.signal import SignalReader, joint_angle
from edgeapp.settings import Problems, read

GOOD = {"signal": "angle", "joints": ["shoulder", "elbow", "wrist"], "up": 150.0, "down": 110.0}


def test_builtins_are_valid_and_user_tables_add_or_replace():
    for name, ex in BUILTIN.items():
        problems = Problems(f"exercise.{name}")
        ex.check(problems)
        assert not problems.errors and ex.up > ex.down
    library = read(RepsFile, {"exercise": {"wall_push": GOOD, "squat": {**GOOD, "joints": ["hip", "knee", "ankle"],
                                                                          "down": 100.0}}}).library
    assert set(library.names) == {*BUILTIN, "wall_push"}
    assert library.get("wall_push").side == "better" and library.get("squat").down == 100.0


@pytest.mark.parametrize("table, key, words", [
    ({**GOOD, "up": 110.0}, "exercise.x.up", "must be above down"),
    ({**GOOD, "up": 200.0}, "exercise.x.up", "0..180"),
    ({**GOOD, "joints": ["shoulder", "elbow", "thumb"]}, "exercise.x.joints[2]", "unknown joint 'thumb'"),
    ({**GOOD, "side": "middle"}, "exercise.x.side", "must be one of"),
    ({**GOOD, "rest": "top"}, "exercise.x.rest", "must be one of"),
    ({**GOOD, "min_rep_s": 30.0}, "exercise.x.min_rep_s", "min_rep_s < max_rep_s"),
    ({**GOOD, "up": "high"}, "exercise.x.up", "must be a number"),
    ({**GOOD, "name": "y"}, "exercise.x.name", "unknown key"),
    ({k: v for k, v in GOOD.items() if k != "down"}, "exercise.x.down", "is required"),
    ("squat", "exercise.x", "must be a table"),
    ({**GOOD, "up": 110.0, "joints": ["hip"]}, "exercise.x.joints", "needs 3 joints"),  # every problem at once
])
def test_bad_definitions_name_the_key(table, key, words):
    with pytest.raises(ConfigError) as err:
        read(RepsFile, {"exercise": {"x": table}})
    assert err.value.path == key and words in err.value.message


def test_exercise_names_are_plain_words():
    with pytest.raises(ConfigError) as err:
        read(RepsFile, {"exercise": {"Wall Push": GOOD}})
    assert err.value.path == "exercise.Wall Push"


@pytest.mark.parametrize("tables, key", [
    ({"reps": {"exercise": "plank"}}, "reps.exercise"),
    ({"reps": {"min_score": 1.5}}, "reps.min_score"),
    ({"reps": {"lost_s": 0}}, "reps.lost_s"),
    ({"reps": {"set_pause": 5}}, "reps.set_pause"),
    ({"tasks": {"pose": False, "detect": True, "reps": True}}, "tasks.reps"),
    ({"exercise": {"x": {**GOOD, "down": 160.0}}}, "exercise.x.up"),
])
def test_the_service_config_names_the_key(tables, key):
    with pytest.raises(ConfigError) as err:
        read(AppConfig, tables)
    assert err.value.path == key and err.value.exit_code == 78


def test_a_user_exercise_can_be_the_service_default():
    config = read(AppConfig, {"tasks": {"reps": True}, "reps": {"exercise": "x"}, "exercise": {"x": GOOD}})
    assert config.reps == RepsConfig(exercise="x") and config.exercise["x"].joints == tuple(GOOD["joints"])


def test_joint_angles_and_invisible_joints():
    assert joint_angle((0, 0), (1, 0), (1, 1)) == pytest.approx(90)
    assert joint_angle((0, 0), (1, 0), (2, 0)) == pytest.approx(180)
    assert joint_angle((1, 0), (1, 0), (2, 0)) is None
    reader = SignalReader(BUILTIN["squat"], min_score=0.3)
    points = [(0.0, 0.0)] * 17
    assert reader.read(points, [0.1] * 17).value is None  # nothing seen, nothing guessed
