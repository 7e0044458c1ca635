"""``edgeapp bench pose``: the bare invoke against the whole per-frame pose path."""

from __future__ import annotations

import time

from edgeapp.bench import dump, machine, print_table
from edgeapp.latency import summarize
from edgeapp.pose import MoveNet
from edgeapp.runtime.model import Model


def bench_pose(model: Model, source, frames: int = 200, warmup: int = 10) -> dict:
    """Decode is timed on its own (the service overlaps it with inference); the pose path is
    crop + input preparation + invoke + mapping back, on the same frames. Give a looping
    source to time more frames than the clip has."""
    estimator = MoveNet(model, smart_crop=True)
    decode, invoke, path = [], [], []
    it = source.frames()
    try:
        while len(path) < frames:
            t0 = time.perf_counter()
            frame = next(it, None)
            t1 = time.perf_counter()
            if frame is None:
                break
            estimator.estimate(frame.image)
            t2 = time.perf_counter()
            if frame.index >= warmup:
                decode.append(t1 - t0)
                path.append(t2 - t1)
                invoke.append(model.last_invoke_s)
    finally:
        source.close()
    inv, pth, dec = summarize(invoke), summarize(path), summarize(decode)
    overhead = [p - i for p, i in zip(path, invoke)]
    over = summarize(overhead)
    return {
        "benchmark": "pose",
        "model": model.path.name,
        "backend": model.info.as_dict(),
        "source": source.name,
        "frames": len(path),
        "invoke": inv.as_dict(),
        "pose_path": pth.as_dict(),
        "overhead": {**over.as_dict(), "pct_of_invoke_p50": round(100 * over.p50_ms / inv.p50_ms, 1) if inv.p50_ms else None},
        "decode": dec.as_dict(),
        "fps": {
            "invoke_only": round(1000 / inv.mean_ms, 1) if inv.mean_ms else None,
            "pose_path": round(1000 / pth.mean_ms, 1) if pth.mean_ms else None,
            "with_decode_serial": round(1000 / (pth.mean_ms + dec.mean_ms), 1) if pth.mean_ms else None,
        },
        "machine": machine(),
    }


def print_report(r: dict, as_json: bool = False) -> None:
    if as_json:
        dump(r)
        return
    m = r["machine"]
    print(f"{r['model']} on {r['backend']['backend']} ({r['backend']['threads']} threads), {r['frames']} frames of {r['source']}")
    print(f"{m['processor']}, {m['cores']} cores, Python {m['python']}, {m['runtime']}, numpy {m['numpy']}, OpenCV {m['opencv']}")
    rows = [
        ("invoke (bare model)", f"{r['invoke']['p50_ms']:.2f}", f"{r['invoke']['p95_ms']:.2f}", str(r["fps"]["invoke_only"])),
        ("pose path (crop+prep+invoke+map)", f"{r['pose_path']['p50_ms']:.2f}", f"{r['pose_path']['p95_ms']:.2f}", str(r["fps"]["pose_path"])),
        ("overhead over invoke", f"{r['overhead']['p50_ms']:.3f}", f"{r['overhead']['p95_ms']:.3f}",
         f"{r['overhead']['pct_of_invoke_p50']}% of invoke"),
        ("decode (separate)", f"{r['decode']['p50_ms']:.2f}", f"{r['decode']['p95_ms']:.2f}", ""),
    ]
    print_table("", rows, ("stage", "p50 ms", "p95 ms", "fps / note"))
