"""The repetition stage on synthetic keypoint sequences: every built-in exercise, with noise, dropped
joints and a pause; people counted apart; switching and resetting. The stage is fed as the pipeline feeds
it: each person's pose through the pose stage's keypoint filter first (:class:`Fed`)."""

from __future__ import annotations

import numpy as np
import pytest

from edgeapp.exercise import BUILTIN, ExerciseLibrary, RepsConfig, RepsStage
from edgeapp.exercise.synthetic import concat, hold, pose_for, sine_reps
from edgeapp.pose.keypoint import KEYPOINT_NAMES
from edgeapp.pose.smoothing import PoseSmoother

FPS = 15.0
# Each exercise's movement as a body does it (not its thresholds): a squat from a straight knee to
# 80 deg, a push-up from straight arms to 70 deg at the elbow, a lunge to 85 deg, a jumping jack from
# hands at the hips (1.1 torso lengths below the shoulder) to hands overhead.
MOVEMENT = {"squat": (175.0, 80.0), "pushup": (170.0, 70.0), "lunge": (175.0, 85.0), "jumping_jack": (-1.1, 1.1)}
PERIOD = {"squat": 2.5, "pushup": 2.0, "lunge": 3.0, "jumping_jack": 1.0}


def needed(name: str) -> tuple[int, ...]:
    ex = BUILTIN[name]
    joints = [*ex.joints] + (["shoulder", "hip"] if ex.signal != "angle" else [])
    return tuple(KEYPOINT_NAMES.index(f"{side}_{j}") for side in ("left", "right") for j in joints)


def session(name: str, seed: int = 0):
    """3 reps, a 3 s pause at rest, 2 reps; 3 px of noise; every needed joint dropped for 0.3 s at the
    bottom of the second rep (a limb crossing the body)."""
    rest, far = MOVEMENT[name]
    period = PERIOD[name]
    trace = concat(sine_reps(3, rest, far, period, FPS), hold(rest, 3.0, FPS), sine_reps(2, rest, far, period, FPS),
                   fps=FPS)
    bottom = 1.0 + 1.5 * period
    drop = (trace.times > bottom - 0.15) & (trace.times < bottom + 0.15)
    rng = np.random.default_rng(seed)
    poses = [pose_for(BUILTIN[name], float(v), rng, noise_px=3.0, hidden=needed(name) if d else ())
             for v, d in zip(trace.values, drop)]
    return trace.times, poses


class Fed:
    """A stage behind the pose stage's per-person keypoint filter, as the pipeline and ``infer reps`` run it."""

    def __init__(self, stage: RepsStage):
        self.stage, self.smoother = stage, PoseSmoother()

    def update(self, pose, time: float, person=None):
        return self.update_people({person: pose}, time)[0]

    def update_people(self, poses, time: float):
        return self.stage.update_people(self.smoother.poses(poses, time), time)


def run(stage: RepsStage, times, poses, person=None):
    fed = Fed(stage)
    results = [fed.update(p, float(t), person) for t, p in zip(times, poses)]
    return results, [e for r in results for e in r.events]


@pytest.mark.parametrize("name", list(BUILTIN))
def test_each_builtin_exercise_counts_exactly_through_noise_drops_and_a_pause(name):
    times, poses = session(name)
    stage = RepsStage(ExerciseLibrary(), RepsConfig(exercise=name))
    results, events = run(stage, times, poses)
    reps = [e for e in events if e.kind == "rep"]
    assert results[-1].count == 5 and [r.count for r in reps] == [1, 2, 3, 4, 5]
    rest, far = MOVEMENT[name]
    for r in reps[:1] + reps[2:]:  # the second rep's far end was hidden: its depth is what was seen
        assert r.depth == pytest.approx(far, abs=abs(rest - far) * 0.1)
    for r in reps:
        assert 0.3 * PERIOD[name] < r.duration_s < PERIOD[name]
    assert not [e for e in events if e.kind == "set_ended"]  # a 3 s pause does not end the set
    assert any(r.signal is None for r in results)  # the drop really hid the joints


@pytest.mark.parametrize("name", list(BUILTIN))
def test_jitter_around_one_threshold_counts_nothing(name):
    ex = BUILTIN[name]
    rng = np.random.default_rng(3)
    band = ex.up - ex.down
    times = np.arange(0, 30, 1 / FPS)
    for centre in (ex.up, ex.down):
        values = centre + rng.uniform(-0.4, 0.4, times.shape) * band
        poses = [pose_for(ex, float(v), rng, noise_px=2.0) for v in values]
        results, events = run(RepsStage(ExerciseLibrary(), RepsConfig(exercise=name)), times, poses)
        assert results[-1].count == 0 and not [e for e in events if e.kind == "rep"]


def test_nobody_in_view_counts_nothing_and_says_so():
    stage = RepsStage(ExerciseLibrary(), RepsConfig())
    results = [stage.update(None, t / FPS) for t in range(100)]
    assert all(r.count == 0 and r.signal is None and r.phase is None and not r.events for r in results)


def test_the_better_side_counts_when_one_side_is_hidden_and_a_fixed_side_does_not():
    name = "squat"
    rest, far = MOVEMENT[name]
    trace = sine_reps(3, rest, far, 2.5, FPS)
    left = tuple(KEYPOINT_NAMES.index(f"left_{j}") for j in ("hip", "knee", "ankle"))
    poses = [pose_for(BUILTIN[name], float(v), hidden=left) for v in trace.values]
    better, _ = run(RepsStage(ExerciseLibrary(), RepsConfig()), trace.times, poses)
    assert better[-1].count == 3 and {r.side for r in better} == {"right"}
    library = ExerciseLibrary({name: BUILTIN[name].__class__(**{**BUILTIN[name].__dict__, "side": "left"})})
    fixed, _ = run(RepsStage(library, RepsConfig()), trace.times, poses)
    assert fixed[-1].count == 0 and all(r.signal is None for r in fixed)


def test_a_rep_in_progress_is_never_finished_on_the_other_side():
    """Seen from the front, the two knees read differently: here the left bends to 80 deg and the right reads
    45 deg straighter, never reaching the down zone. The left side is read; on the way down of each rep it is
    hidden for one frame, past the up zone (the smoothed knee lags the raw one) and before the down zone. That frame gives no value (the counter bridges it) rather than the right side's,
    whose shallow bottom would reject the rep and keep the reader on the wrong side."""
    ex = BUILTIN["squat"]
    trace = sine_reps(3, 175.0, 80.0, 2.5, FPS)
    left = [KEYPOINT_NAMES.index(f"left_{j}") for j in ("hip", "knee", "ankle")]
    right = [KEYPOINT_NAMES.index(f"right_{j}") for j in ("hip", "knee", "ankle")]
    going_down = np.flatnonzero((np.diff(trace.values, prepend=trace.values[0]) < 0) & (trace.values < 135)
                                & (trace.values > 121))
    hide = {int(i) for i in going_down[np.r_[True, np.diff(going_down) > 1]]}  # the first such frame of each rep
    assert len(hide) == 3
    poses = []
    for i, v in enumerate(trace.values):
        pose = pose_for(ex, float(v), hidden=tuple(left) if i in hide else ())
        pose.xy[right] = pose_for(ex, min(175.0, float(v) + 45.0)).xy[right]
        poses.append(pose)
    results, events = run(RepsStage(ExerciseLibrary(), RepsConfig()), trace.times, poses)
    assert [r.side for r in results if r.signal is not None] == ["left"] * (len(poses) - 3)
    assert results[-1].count == 3 and not [e for e in events if e.kind == "rejected"]
    assert all(e.depth == pytest.approx(80.0, abs=3.0) for e in events if e.kind == "rep")


def test_counts_belong_to_the_person():
    times, poses = session("squat")
    stage = Fed(RepsStage(ExerciseLibrary(), RepsConfig()))
    standing = pose_for(BUILTIN["squat"], 175.0)
    for t, p in zip(times, poses):
        results = stage.update_people({7: p, 9: standing}, float(t))
    assert {r.person: r.count for r in results} == {7: 5, 9: 0}


def test_a_switch_ends_the_set_and_starts_the_new_exercise_at_zero():
    times, poses = session("squat")
    stage = RepsStage(ExerciseLibrary(), RepsConfig())
    run(stage, times, poses)
    with pytest.raises(ValueError, match="unknown exercise 'plank'"):
        stage.request("plank")
    assert stage.request("pushup") == "pushup"
    now, ended = stage.update_people({None: poses[0]}, float(times[-1]) + 0.1)
    assert (now.exercise, now.count, now.events) == ("pushup", 0, ())
    assert (ended.exercise, [(e.kind, e.count, e.reason) for e in ended.events]) == ("squat", [("set_ended", 5, "reset")])
    stage.request(None)  # reset, same exercise: nothing was counted, nothing to say
    (r,) = stage.update_people({None: poses[0]}, float(times[-1]) + 0.2)
    assert (r.exercise, r.count, r.events) == ("pushup", 0, ())


def test_the_service_task_counts_per_track_id_when_the_frame_has_people():
    from types import SimpleNamespace

    from edgeapp.config import AppConfig
    from edgeapp.exercise.task import RepsTask

    published = []
    task = RepsTask.from_config(AppConfig(), published.append)
    times, poses = session("squat")
    standing = pose_for(BUILTIN["squat"], 175.0)
    smoother = PoseSmoother()
    for t, p in zip(times, poses):
        frame = SimpleNamespace(time=float(t))
        steady = smoother.poses({3: p, 8: standing}, float(t))
        first = task.update_frame(SimpleNamespace(frame=frame, pose=steady[3], people=[
            SimpleNamespace(id=3, pose=steady[3]), SimpleNamespace(id=8, pose=steady[8])]))
    assert (first.person, first.count) == (3, 5)
    task.close(float(times[-1]))
    assert [(e.type, e.person, e.count) for e in published][-2:] == [("rep", 3, 5), ("set_ended", 3, 5)]
    single = RepsTask.from_config(AppConfig(), published.append)
    r = single.update_frame(SimpleNamespace(frame=SimpleNamespace(time=0.0), pose=poses[0], people=[]))
    assert r.person is None


def test_leaving_mid_rep_and_after_a_rep_never_adds_one():
    """Out of view longer than lost_s: the movement in progress is forgotten, and coming back standing
    after a counted rep is not another rep."""
    ex = BUILTIN["squat"]
    stage = Fed(RepsStage(ExerciseLibrary(), RepsConfig()))
    trace = sine_reps(1, 175.0, 80.0, 2.5, FPS)
    t = 0.0
    for v in trace.values:  # one whole rep
        stage.update(pose_for(ex, float(v)), t)
        t += 1 / FPS
    for v in (175.0, 150.0, 120.0, 90.0):  # on the way down...
        stage.update(pose_for(ex, v), t)
        t += 1 / FPS
    for _ in range(int(3 * FPS)):  # ...gone for 3 s
        r = stage.update(None, t)
        t += 1 / FPS
    for _ in range(int(2 * FPS)):  # back, standing
        r = stage.update(pose_for(ex, 175.0), t)
        t += 1 / FPS
    assert r.count == 1 and r.phase == "up"


def test_a_person_seen_before_their_track_is_confirmed_keeps_their_rep_in_progress():
    """The pipeline poses someone without an id until the tracker confirms them: the id takes over."""
    times, poses = session("squat")
    stage = Fed(RepsStage(ExerciseLibrary(), RepsConfig()))
    for i, (t, p) in enumerate(zip(times, poses)):
        (r, *_) = stage.update_people({None if i < 20 else 4: p}, float(t))  # confirmed mid-way down
    assert (r.person, r.count) == (4, 5)
