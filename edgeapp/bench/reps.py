"""``edgeapp bench reps``: what the repetition stage costs per frame.

The stage runs on synthetic poses of a known trace, so the figure needs no model and no clip and is
the same work a camera frame costs: poses are built before timing. Three figures: the pose stage's One
Euro keypoint filter (``PoseSmoother``, shared by classification and counting, paid once a frame per
person), the whole ``RepsStage.update`` on the filtered poses, and the counting itself (the signal read
from the smoothed keypoints and ``RepCounter.update``).
"""

from __future__ import annotations

import time

import numpy as np

from edgeapp.bench import machine, print_table, show
from edgeapp.exercise import ExerciseLibrary, RepCounter, RepsConfig, RepsStage
from edgeapp.exercise.definition import BUILTIN
from edgeapp.exercise.signal import SignalReader
from edgeapp.exercise.synthetic import pose_for, sine_reps
from edgeapp.latency import summarize
from edgeapp.pose.smoothing import PoseSmoother

PERIOD_S = 2.0  # one rep every 2 s
NOISE_PX = 2.0
DISTINCT = 600  # poses to cycle through: building 20000 would time the generator, not the stage


def bench_reps(exercise: str = "squat", frames: int = 20000, fps: float = 30.0, seed: int = 0) -> dict:
    ex = BUILTIN[exercise]
    rest, far = (ex.up + 10, ex.down - 10) if ex.rest == "up" else (ex.down - 0.5, ex.up + 0.5)
    trace = sine_reps(max(1, int(frames / fps / PERIOD_S)), rest, far, PERIOD_S, fps, lead_s=0.5, tail_s=0.5)
    rng = np.random.default_rng(seed)
    poses = [pose_for(ex, float(v), rng, NOISE_PX) for v in trace.values[:DISTINCT]]
    times = [float(t) for t in trace.times[:frames]]
    config = RepsConfig(exercise=exercise)

    smoother, smoothed = PoseSmoother(), []
    filtering = _timed(lambda i, t: smoothed.append(smoother.pose(poses[i % len(poses)], t)), times)
    stage = RepsStage(ExerciseLibrary(), config)
    whole = _timed(lambda i, t: stage.update(smoothed[i], t), times)
    count = stage.update(None, times[-1]).count

    reader, counter = SignalReader(ex, config.min_score), RepCounter(config.limits(ex))
    size = poses[0].frame_size
    lists = [(p.xy.tolist(), p.scores.tolist()) for p in smoothed]

    def count_one(i: int, t: float) -> None:
        points, scores = lists[i]
        counter.update(reader.read(points, scores, "left", counter.moving, size).value, t)

    counting = _timed(count_one, times)
    return {"benchmark": "reps", "exercise": exercise, "frames": len(times), "fps": fps, "reps_counted": count,
            "update": whole.as_dict(4), "keypoint_filter": filtering.as_dict(4), "signal_and_counter": counting.as_dict(4),
            "machine": machine()}


def _timed(step, times):
    samples = []
    for i, t in enumerate(times):
        start = time.perf_counter()
        step(i, t)
        samples.append(time.perf_counter() - start)
    return summarize(samples)


def print_report(r: dict, as_json: bool = False) -> None:
    show(r, as_json, f"repetition stage ({r['exercise']}), {r['frames']} synthetic frames at {r['fps']:g} fps", _table)


def _table(r: dict) -> None:
    rows = [(label, f"{r[k]['p50_ms']:.4f}", f"{r[k]['p95_ms']:.4f}", f"{r[k]['mean_ms']:.4f}") for label, k in (
        ("pose stage: One Euro keypoint filter (once per person, shared)", "keypoint_filter"),
        ("RepsStage.update per frame, on the filtered pose", "update"),
        ("  signal + RepCounter alone", "signal_and_counter"),
    )]
    print_table("", rows, ("stage", "p50 ms", "p95 ms", "mean ms"))
    print(f"{r['reps_counted']} reps counted")
