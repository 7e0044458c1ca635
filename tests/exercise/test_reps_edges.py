"""The repetition feature at the project's edges: the rep event's payload, the MQTT commands and Home
Assistant discovery, the preview's count, and ``edgeapp bench reps``."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from edgeapp.events import EventError, decode, encode
from edgeapp.events.rep import RepEvent
from edgeapp.exercise.counter import Rep, SetEnded
from edgeapp.mqtt.commands import Commands
from edgeapp.mqtt.discovery import discovery_payload
from edgeapp.mqtt.topics import Topics
from edgeapp.preview.overlay import render, reps_text
from edgeapp.preview.state import describe

TOPICS = Topics("edgeapp", "gym")


def test_rep_events_round_trip_through_the_payload():
    rep = RepEvent.from_counter(Rep(3, 2, 1.0, 3.2, 2.2, np.float64(95.1234), 80.0, 1.1, 1.1), "squat", "deg", 3.4)
    ended = RepEvent.from_counter(SetEnded(3, 3, 1.0, 9.0, 19.0, "pause"), "squat", "deg", 19.0, person=4)
    for event in (rep, ended):
        back = decode(encode(event, "gym", 7)).event
        assert back == event
    body = json.loads(encode(rep, "gym", 7))
    assert (body["event"], body["type"], body["count"], body["depth"], body["person"]) == ("rep", "rep", 3, 95.123, None)
    assert json.loads(encode(ended, "gym", 8))["duration_s"] == 8.0
    with pytest.raises(EventError, match="reason"):
        RepEvent(type="set_ended", exercise="squat", count=1, set_reps=1, frame_time=1.0, started_at=0.0,
                 ended_at=1.0, duration_s=1.0, reason="bored")
    with pytest.raises(EventError, match="depth"):
        RepEvent(type="rep", exercise="squat", count=1, set_reps=1, frame_time=1.0, started_at=0.0, ended_at=1.0,
                 duration_s=1.0)


def test_the_exercise_command_takes_a_bare_name_or_json_and_refuses_the_rest():
    errors, states, calls = [], {}, []
    commands = Commands(TOPICS, report=errors.append, publish_state=states.__setitem__)
    commands.register("exercise", lambda name: calls.append(name) or name, initial="squat")
    assert states[TOPICS.state("exercise")] == "squat"
    assert commands.dispatch(TOPICS.command("exercise"), b"pushup")
    assert commands.dispatch(TOPICS.command("exercise"), b'"jumping_jack"')
    assert calls == ["pushup", "jumping_jack"] and states[TOPICS.state("exercise")] == "jumping_jack"
    for bad in (b"Push Up", b"42", b'["squat"]', b""):
        assert not commands.dispatch(TOPICS.command("exercise"), bad)
    assert len(errors) == 4 and calls == ["pushup", "jumping_jack"]


def test_discovery_has_a_rep_counter_only_when_reps_run():
    without = discovery_payload(TOPICS, ("tracking", "classification"))["cmps"]
    assert "edgeapp_gym_reps" not in without
    cmps = discovery_payload(TOPICS, ("classification", "exercise", "reps_reset"))["cmps"]
    counter = cmps["edgeapp_gym_reps"]
    assert counter["p"] == "sensor" and counter["stat_t"] == TOPICS.event("rep")
    assert counter["stat_cla"] == "total_increasing" and "reset" in counter["val_tpl"]
    assert cmps["edgeapp_gym_exercise"]["cmd_t"] == TOPICS.command("exercise")
    assert cmps["edgeapp_gym_reps_reset"]["p"] == "button"


def test_the_preview_shows_the_count():
    pipeline = SimpleNamespace(latest=None, backend=lambda: ("cpu", False),
                               stats=SimpleNamespace(fps=lambda: 10.0, frames=5, started=0.0))
    reps = SimpleNamespace(exercise="jumping_jack", count=7, set_reps=3, phase="up")
    result = SimpleNamespace(frame=SimpleNamespace(index=5, time=1.0), pose=None, classification=None, reps=reps,
                             detections=None, target=None)
    state = describe(pipeline, result)
    assert state["reps"] == {"exercise": "jumping_jack", "count": 7, "set_reps": 3, "phase": "up"}
    assert reps_text(state["reps"]) == "jumping jack: 7 reps  (up)" and reps_text(None) is None
    frame = np.zeros((240, 320, 3), np.uint8)
    with_count = render(frame, state)
    without = render(frame, {**state, "reps": None})
    rows = np.nonzero((with_count != without).any(axis=(1, 2)))[0]
    assert rows.size and rows.min() > 20 and rows.max() < 120  # a line drawn under the pose line


def test_bench_reps_reports_the_per_frame_cost_and_checks_its_options():
    r = subprocess.run([sys.executable, "-m", "edgeapp", "bench", "reps", "--frames", "900", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["frames"] == 900
    for part in ("update", "keypoint_filter", "signal_and_counter"):
        assert report[part]["n"] == 900 and report[part]["p50_ms"] > 0
    assert report["reps_counted"] >= 13  # 30 s of a rep every 2 s: the stage really counted while timed
    bad = subprocess.run([sys.executable, "-m", "edgeapp", "bench", "reps", "--exercise", "plank"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--exercise" in bad.stderr
