"""``edgeapp bench pose``: the bare invoke against the whole per-frame pose path."""

from __future__ import annotations

import time

from edgeapp.bench import bench_frames, machine, path_report, path_rows, print_table, show
from edgeapp.pose import MoveNet
from edgeapp.runtime.model import Model


def bench_pose(model: Model, source, frames: int = 200, warmup: int = 10) -> dict:
    """Decode is timed on its own (the service overlaps it with inference); the pose path is
    crop + input preparation + invoke + mapping back, on the same frames."""
    estimator = MoveNet(model, smart_crop=True)
    decode, invoke, path = [], [], []
    for frame, decode_s, timed in bench_frames(source, frames, warmup):
        start = time.perf_counter()
        estimator.estimate(frame.image)
        if timed:
            path.append(time.perf_counter() - start)
            decode.append(decode_s)
            invoke.append(model.last_invoke_s)
    return {"benchmark": "pose", "model": model.path.name, "backend": model.info.as_dict(), "source": source.name,
            **path_report(invoke, path, decode, "pose_path"), "machine": machine()}


def print_report(r: dict, as_json: bool = False) -> None:
    show(r, as_json, f"{r['model']} on {r['backend']['backend']} ({r['backend']['threads']} threads), "
                     f"{r['frames']} frames of {r['source']}", _table)


def _table(r: dict) -> None:
    print_table("", path_rows(r, "pose_path", "pose path (crop+prep+invoke+map)"), ("stage", "p50 ms", "p95 ms", "fps / note"))
