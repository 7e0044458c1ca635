"""Hysteresis and hold timing on frame sequences, in frame time."""

from __future__ import annotations

import pytest

from edgeapp.errors import ConfigError

from edgeapp.classify.hold import HoldConfig, HoldTimer, PoseEnded, PoseHeld, PoseStarted
from edgeapp.settings import read


def run(tracker, labels, fps=10.0, t0=0.0):
    """Feed one label per frame at ``fps``; returns every event, in order."""
    events = []
    for i, label in enumerate(labels):
        events += tracker.update(label, t0 + i / fps)
    return events


def kinds(events):
    return [(e.kind, e.label) for e in events]


CFG = HoldConfig(confirm_frames=3, confirm_s=0.2, release_frames=3, release_s=0.2, milestone_s=5.0)


def test_a_label_becomes_current_after_winning_long_enough():
    t = HoldTimer(CFG)
    assert run(t, ["tree", "tree"]) == []
    assert t.state.current is None and t.state.candidate == "tree" and t.state.candidate_frames == 2
    (ev,) = t.update("tree", 0.2)  # 3 frames, spanning 0.2 s
    assert isinstance(ev, PoseStarted) and ev.label == "tree"
    assert ev.started_at == 0.0 and ev.time == 0.2 and ev.held_s == pytest.approx(0.2)
    assert t.state.current == "tree" and t.state.held_s == pytest.approx(0.2)


def test_frames_alone_are_not_enough_when_the_time_is_short():
    t = HoldTimer(CFG)
    # 30 fps: 3 frames span only 0.067 s; the label waits for 0.2 s (frame 7 at 0.2 s)
    events = run(t, ["dog"] * 8, fps=30.0)
    assert kinds(events) == [("started", "dog")]
    assert events[0].time == pytest.approx(6 / 30)


def test_flicker_does_not_change_the_current_pose():
    t = HoldTimer(CFG)
    seq = ["tree"] * 5 + ["warrior"] + ["tree"] * 3 + [None, "chair"] + ["tree"] * 3 + ["warrior", "warrior"] + ["tree"]
    events = run(t, seq)
    assert kinds(events) == [("started", "tree")]  # no end, no other start
    assert t.state.current == "tree"
    assert t.state.held_s == pytest.approx((len(seq) - 1) / 10)


def test_flicker_never_confirms_a_label():
    t = HoldTimer(CFG)
    assert run(t, ["tree", "dog", "tree", "dog", None, "tree", "dog", "chair"] * 5) == []
    assert t.state.current is None


def test_a_new_label_that_wins_long_enough_replaces_the_current():
    t = HoldTimer(CFG)
    events = run(t, ["tree"] * 20 + ["warrior"] * 5)
    assert kinds(events) == [("started", "tree"), ("ended", "tree"), ("started", "warrior")]
    ended, started = events[1], events[2]
    assert isinstance(ended, PoseEnded) and ended.reason == "changed"
    assert ended.started_at == 0.0 and ended.ended_at == pytest.approx(1.9)
    assert ended.held_s == pytest.approx(1.9)  # first to last frame it won
    assert started.started_at == pytest.approx(2.0) and started.time == pytest.approx(2.2)


def test_losing_the_pose_ends_it_with_the_total_hold_time():
    t = HoldTimer(CFG)
    events = run(t, ["chair"] * 31 + [None] * 5)
    assert kinds(events) == [("started", "chair"), ("ended", "chair")]
    end = events[-1]
    assert end.reason == "lost" and end.held_s == pytest.approx(3.0) and end.ended_at == pytest.approx(3.0)
    assert end.time == pytest.approx(3.3)  # decided after 3 frames / 0.2 s without it
    assert t.state.current is None and t.state.held_s == 0.0


def test_held_milestones_every_5_s_of_frame_time():
    t = HoldTimer(CFG)
    events = run(t, ["tree"] * 121)  # 0 .. 12 s at 10 fps
    held = [e for e in events if isinstance(e, PoseHeld)]
    assert [e.milestone_s for e in held] == [5.0, 10.0]
    assert [e.time for e in held] == [pytest.approx(5.0), pytest.approx(10.0)]
    assert held[0].held_s == pytest.approx(5.0)
    assert t.finish()[0].held_s == pytest.approx(12.0)


def test_hold_is_frame_time_not_wall_time():
    """A clip decoded at any speed gives the same holds: only the frame times count."""
    t = HoldTimer(CFG)
    events = run(t, ["cobra"] * 80, fps=2.0)  # 40 s of video, processed in milliseconds
    assert [e.milestone_s for e in events if isinstance(e, PoseHeld)] == [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0]
    assert t.state.held_s == pytest.approx(39.5)


def test_uneven_frame_times_and_a_gap_give_one_held_for_the_highest_milestone():
    t = HoldTimer(CFG)
    times = [0.0, 0.13, 0.2, 0.41, 3.0, 11.7, 11.8]
    events = []
    for ts in times:
        events += t.update("dog", ts)
    held = [e for e in events if isinstance(e, PoseHeld)]
    assert [(e.milestone_s, e.held_s) for e in held] == [(10.0, pytest.approx(11.7))]


def test_held_time_stops_at_the_last_winning_frame():
    t = HoldTimer(CFG)
    run(t, ["tree"] * 10)  # held 0.9 s
    t.update("warrior", 1.0)  # one flicker frame: still tree, but not held longer
    assert t.state.current == "tree" and t.state.held_s == pytest.approx(0.9)


def test_frames_only_and_time_only_configs():
    frames_only = HoldTimer(HoldConfig(confirm_frames=5, confirm_s=0, release_frames=1, release_s=0))
    assert kinds(run(frames_only, ["tree"] * 5, fps=1000)) == [("started", "tree")]
    time_only = HoldTimer(HoldConfig(confirm_frames=0, confirm_s=1.0, release_frames=0, release_s=0.5))
    events = run(time_only, ["tree"] * 11 + [None] * 6, fps=10)
    assert kinds(events) == [("started", "tree"), ("ended", "tree")]
    assert events[0].time == pytest.approx(1.0) and events[1].time == pytest.approx(1.6)


def test_finish_and_time_going_backwards():
    t = HoldTimer(CFG)
    run(t, ["tree"] * 10)
    (ev,) = t.update("tree", 0.0)  # a new clip starts: the old hold ends, nothing carries over
    assert isinstance(ev, PoseEnded) and ev.reason == "finished" and ev.held_s == pytest.approx(0.9)
    assert t.state.current is None and t.state.candidate == "tree"
    assert t.finish() == ()


def test_milestones_off():
    t = HoldTimer(HoldConfig(milestone_s=0))
    assert not [e for e in run(t, ["tree"] * 200) if isinstance(e, PoseHeld)]


def test_events_and_state_serialise():
    t = HoldTimer(CFG)
    events = run(t, ["tree"] * 51)
    d = [e.to_dict() for e in events]
    assert d[0] == {"type": "started", "label": "tree", "time": 0.2, "started_at": 0.0, "held_s": 0.2}
    assert d[1]["type"] == "held" and d[1]["milestone_s"] == 5.0
    assert t.state.to_dict() == {"current": "tree", "held_s": 5.0, "started_at": 0.0, "candidate": None,
                                 "candidate_frames": 0}


@pytest.mark.parametrize("kw", [{"confirm_frames": -1}, {"confirm_s": -0.1}, {"milestone_s": float("nan")},
                                {"release_frames": 1.5}, {"release_s": True}])
def test_bad_hold_config(kw):
    with pytest.raises(ConfigError, match=next(iter(kw))):
        read(HoldConfig, kw)
