"""``edgeapp bench detect``: the bare invoke against the whole per-frame detection path."""

from __future__ import annotations

import time

from edgeapp.bench import dump, machine, print_table
from edgeapp.detect.detector import Detector
from edgeapp.detect.tracker import IouTracker
from edgeapp.latency import summarize


def bench_detect(detector: Detector, source, frames: int = 200, warmup: int = 10) -> dict:
    """Decode is timed on its own (the service overlaps it with inference). The detect path is
    window sampling + input preparation + invoke + post-processing and mapping back; tracking is
    timed separately, on the same frames."""
    tracker = IouTracker(detector.config.tracker)
    decode, invoke, path, track, found = [], [], [], [], []
    it = source.frames()
    try:
        n = 0
        while n < warmup + frames:
            t0 = time.perf_counter()
            frame = next(it, None)
            t1 = time.perf_counter()
            if frame is None:
                if n == 0:
                    break
                source.close()
                it = source.frames()  # loop the clip until enough frames were timed
                continue
            detections = detector.detect(frame.image)
            t2 = time.perf_counter()
            tracker.update(detections, frame.index, frame.time)
            t3 = time.perf_counter()
            if n >= warmup:
                decode.append(t1 - t0)
                path.append(t2 - t1)
                invoke.append(detector.last_invoke_s)
                track.append(t3 - t2)
                found.append(len(detections))
            n += 1
    finally:
        source.close()
    inv, pth, dec, trk = summarize(invoke), summarize(path), summarize(decode), summarize(track)
    over = summarize([p - i for p, i in zip(path, invoke)])
    model = detector.model
    return {
        "benchmark": "detect",
        "model": model.path.name,
        "backend": model.info.as_dict(),
        "source": source.name,
        "frames": len(path),
        "resize": detector.config.resize,
        "detections_per_frame": round(sum(found) / len(found), 2) if found else 0.0,
        "invoke": inv.as_dict(),
        "detect_path": pth.as_dict(),
        "overhead": {**over.as_dict(), "pct_of_invoke_p50": round(100 * over.p50_ms / inv.p50_ms, 1) if inv.p50_ms else None},
        "tracker": trk.as_dict(),
        "decode": dec.as_dict(),
        "fps": {
            "invoke_only": round(1000 / inv.mean_ms, 1) if inv.mean_ms else None,
            "detect_path": round(1000 / pth.mean_ms, 1) if pth.mean_ms else None,
            "with_decode_serial": round(1000 / (pth.mean_ms + dec.mean_ms + trk.mean_ms), 1) if pth.mean_ms else None,
        },
        "machine": machine(),
    }


def print_report(r: dict, as_json: bool = False) -> None:
    if as_json:
        dump(r)
        return
    m = r["machine"]
    print(f"{r['model']} on {r['backend']['backend']} ({r['backend']['threads']} threads), {r['frames']} frames of "
          f"{r['source']} ({r['resize']}, {r['detections_per_frame']} detections per frame)")
    print(f"{m['processor']}, {m['cores']} cores, Python {m['python']}, {m['runtime']}, numpy {m['numpy']}, OpenCV {m['opencv']}")
    rows = [
        ("invoke (bare model)", f"{r['invoke']['p50_ms']:.2f}", f"{r['invoke']['p95_ms']:.2f}", str(r["fps"]["invoke_only"])),
        ("detect path (window+prep+invoke+decode)", f"{r['detect_path']['p50_ms']:.2f}",
         f"{r['detect_path']['p95_ms']:.2f}", str(r["fps"]["detect_path"])),
        ("overhead over invoke", f"{r['overhead']['p50_ms']:.3f}", f"{r['overhead']['p95_ms']:.3f}",
         f"{r['overhead']['pct_of_invoke_p50']}% of invoke"),
        ("tracker update (separate)", f"{r['tracker']['p50_ms']:.3f}", f"{r['tracker']['p95_ms']:.3f}", ""),
        ("decode (separate)", f"{r['decode']['p50_ms']:.2f}", f"{r['decode']['p95_ms']:.2f}", ""),
    ]
    print_table("", rows, ("stage", "p50 ms", "p95 ms", "fps / note"))
