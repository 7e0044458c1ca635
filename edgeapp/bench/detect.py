"""``edgeapp bench detect``: the bare invoke against the whole per-frame detection path."""

from __future__ import annotations

import time

from edgeapp.bench import bench_frames, machine, path_report, path_rows, print_table, show
from edgeapp.detect.detector import Detector
from edgeapp.latency import summarize


def bench_detect(detector: Detector, source, frames: int = 200, warmup: int = 10) -> dict:
    """Decode is timed on its own (the service overlaps it with inference). The detect path is
    window sampling + input preparation + invoke + post-processing and mapping back; tracking is
    timed separately, on the same frames."""
    tracker = detector.new_tracker()
    decode, invoke, path, track, found = [], [], [], [], []
    for frame, decode_s, timed in bench_frames(source, frames, warmup):
        t1 = time.perf_counter()
        detections = detector.detect(frame.image, floor=detector.tracking_floor)
        t2 = time.perf_counter()
        tracker.update(detections, frame.index, frame.time)
        t3 = time.perf_counter()
        if timed:
            decode.append(decode_s)
            path.append(t2 - t1)
            invoke.append(detector.last_invoke_s)
            track.append(t3 - t2)
            found.append(len(detections))
    model = detector.model
    return {
        "benchmark": "detect",
        "model": model.path.name,
        "backend": model.info.as_dict(),
        "source": source.name,
        "resize": detector.config.resize,
        "detections_per_frame": round(sum(found) / len(found), 2) if found else 0.0,
        **path_report(invoke, path, decode, "detect_path"),
        "tracker": summarize(track).as_dict(),
        "machine": machine(),
    }


def print_report(r: dict, as_json: bool = False) -> None:
    show(r, as_json, f"{r['model']} on {r['backend']['backend']} ({r['backend']['threads']} threads), {r['frames']} "
                     f"frames of {r['source']} ({r['resize']}, {r['detections_per_frame']} detections per frame)", _table)


def _table(r: dict) -> None:
    rows = path_rows(r, "detect_path", "detect path (window+prep+invoke+decode)")
    rows.insert(3, ("tracker update (separate)", f"{r['tracker']['p50_ms']:.3f}", f"{r['tracker']['p95_ms']:.3f}", ""))
    print_table("", rows, ("stage", "p50 ms", "p95 ms", "fps / note"))
