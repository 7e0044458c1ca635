"""``edgeapp bench classify``: what classification adds to each frame, next to the pose path.

Every frame is classified (the gate is off), so the figure is the cost of a frame
that does get classified, not an average that is lowered by frames the gate skips.
"""

from __future__ import annotations

import time

from edgeapp.bench import bench_frames, machine, print_table, show
from edgeapp.classify.classifier import PoseClassifier
from edgeapp.classify.hold import HoldTracker
from edgeapp.latency import summarize
from edgeapp.pose import MoveNet


def bench_classify(estimator: MoveNet, classifier: PoseClassifier, source, frames: int = 200, warmup: int = 10) -> dict:
    tracker = HoldTracker()
    pose_t, classify_t, invoke_t, hold_t = [], [], [], []
    for frame, _decode_s, timed in bench_frames(source, frames, warmup):
        t0 = time.perf_counter()
        pose = estimator.estimate(frame.image)
        t1 = time.perf_counter()
        result = classifier.classify(pose)
        t2 = time.perf_counter()
        tracker.update(result.label, frame.time)
        t3 = time.perf_counter()
        if timed:
            pose_t.append(t1 - t0)
            classify_t.append(t2 - t1)
            invoke_t.append(classifier.model.last_invoke_s)
            hold_t.append(t3 - t2)
    p, c, i, h = summarize(pose_t), summarize(classify_t), summarize(invoke_t), summarize(hold_t)
    return {
        "benchmark": "classify",
        "pose_model": estimator.model.path.name,
        "pose_backend": estimator.model.info.as_dict(),
        "classifier": classifier.model.path.name,
        "classifier_threads": classifier.model.info.threads,
        "source": source.name,
        "frames": len(pose_t),
        "pose_path": p.as_dict(),
        "classify": c.as_dict(),
        "classify_invoke": i.as_dict(),
        "hold_update": h.as_dict(4),
        "classify_pct_of_pose_p50": round(100 * c.p50_ms / p.p50_ms, 2) if p.p50_ms else None,
        "machine": machine(),
    }


def print_report(r: dict, as_json: bool = False) -> None:
    b = r["pose_backend"]
    show(r, as_json, f"{r['classifier']} ({r['classifier_threads']} thread) after {r['pose_model']} on {b['backend']} "
                     f"({b['threads']} threads), {r['frames']} frames of {r['source']}", _table)


def _table(r: dict) -> None:
    rows = [
        ("pose path (MoveNet, crop+prep+invoke+map)", f"{r['pose_path']['p50_ms']:.3f}", f"{r['pose_path']['p95_ms']:.3f}"),
        ("classify (features+invoke+top-k)", f"{r['classify']['p50_ms']:.3f}", f"{r['classify']['p95_ms']:.3f}"),
        ("  of which classifier invoke", f"{r['classify_invoke']['p50_ms']:.3f}", f"{r['classify_invoke']['p95_ms']:.3f}"),
        ("hold tracker update", f"{r['hold_update']['p50_ms']:.4f}", f"{r['hold_update']['p95_ms']:.4f}"),
    ]
    print_table("", rows, ("stage", "p50 ms", "p95 ms"))
    print(f"classification costs {r['classify_pct_of_pose_p50']}% of the pose path (p50)")
