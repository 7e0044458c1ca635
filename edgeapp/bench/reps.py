"""``edgeapp bench reps``: what the repetition stage costs per frame.

The stage (One Euro smoothing of the 17 keypoints, the signal, the counter) runs on synthetic poses
of a known trace, so the figure needs no model and no clip and is the same work a camera frame costs:
poses are built before timing, only ``RepsStage.update`` is timed.
"""

from __future__ import annotations

import time

import numpy as np

from edgeapp.bench import machine, print_table, show
from edgeapp.exercise import ExerciseLibrary, RepsConfig, RepsStage
from edgeapp.exercise.definition import BUILTIN
from edgeapp.exercise.synthetic import pose_for, sine_reps
from edgeapp.latency import summarize

PERIOD_S = 2.0  # one rep every 2 s
NOISE_PX = 2.0


def bench_reps(exercise: str = "squat", frames: int = 20000, fps: float = 30.0, seed: int = 0) -> dict:
    ex = BUILTIN[exercise]
    rest, far = (ex.up + 10, ex.down - 10) if ex.rest == "up" else (ex.down - 0.5, ex.up + 0.5)
    reps = max(1, int(frames / fps / PERIOD_S))
    trace = sine_reps(reps, rest, far, PERIOD_S, fps, lead_s=0.5, tail_s=0.5)
    rng = np.random.default_rng(seed)
    distinct = 600  # poses to cycle through: building 20000 would time the generator, not the stage
    poses = [pose_for(ex, float(v), rng, NOISE_PX) for v in trace.values[:distinct]]
    stage = RepsStage(ExerciseLibrary(), RepsConfig(exercise=exercise))
    samples, count = [], 0
    for i, t in enumerate(trace.times[:frames]):
        pose = poses[i % len(poses)]
        start = time.perf_counter()
        r = stage.update(pose, float(t))
        samples.append(time.perf_counter() - start)
        count = r.count
    s = summarize(samples)
    return {"benchmark": "reps", "exercise": exercise, "frames": len(samples), "fps": fps, "reps_counted": count,
            "update": s.as_dict(4), "machine": machine()}


def print_report(r: dict, as_json: bool = False) -> None:
    show(r, as_json, f"repetition stage ({r['exercise']}): smoothing + signal + counter, {r['frames']} synthetic "
                     f"frames at {r['fps']:g} fps", _table)


def _table(r: dict) -> None:
    u = r["update"]
    print_table("", [("RepsStage.update per frame", f"{u['p50_ms']:.4f}", f"{u['p95_ms']:.4f}", f"{u['mean_ms']:.4f}")],
                ("stage", "p50 ms", "p95 ms", "mean ms"))
    print(f"{r['reps_counted']} reps counted")
