"""Benchmarks behind ``edgeapp bench ...``: measured, never asserted by timed tests."""

from __future__ import annotations

import json
import os
import platform

from edgeapp.runtime.litert import RUNTIME_NAME


def machine() -> dict:
    """What the figures were measured on, printed with every report."""
    import numpy
    import cv2

    return {
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "runtime": RUNTIME_NAME,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
    }


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_line(m: dict) -> str:
    """The one-line description of the machine printed under every report."""
    return (f"{m['processor']}, {m['cores']} cores, Python {m['python']}, {m['runtime']}, numpy {m['numpy']}, "
            f"OpenCV {m['opencv']}")


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(title)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")


def show(report: dict, as_json: bool, title: str, body) -> None:
    """Print a benchmark's report: as JSON, or as its title, the machine it ran on and ``body(report)``."""
    if as_json:
        print(json.dumps(report, indent=2))
        return
    print(title)
    print(machine_line(report["machine"]))
    body(report)


def bench_frames(source, frames: int, warmup: int):
    """Yield ``(frame, decode_seconds, timed)`` until ``frames`` timed frames went by after ``warmup``
    untimed ones, reading a short clip again from the start as often as needed. Closes the source."""
    import time

    n = 0
    try:
        while n < warmup + frames:
            it = source.frames()
            got = False
            while n < warmup + frames:
                start = time.perf_counter()
                frame = next(it, None)
                decode_s = time.perf_counter() - start
                if frame is None:
                    break
                got = True
                yield frame, decode_s, n >= warmup
                n += 1
            if not got:
                return
    finally:
        source.close()


def path_report(invoke_s: list[float], path_s: list[float], decode_s: list[float], path_name: str) -> dict:
    """The bare invoke against the whole per-frame path of one model, and what the path adds."""
    from edgeapp.latency import summarize

    inv, pth, dec = summarize(invoke_s), summarize(path_s), summarize(decode_s)
    over = summarize([p - i for p, i in zip(path_s, invoke_s)])
    return {
        "frames": len(path_s),
        "invoke": inv.as_dict(),
        path_name: pth.as_dict(),
        "overhead": {**over.as_dict(), "pct_of_invoke_p50": round(100 * over.p50_ms / inv.p50_ms, 1) if inv.p50_ms else None},
        "decode": dec.as_dict(),
        "fps": {
            "invoke_only": round(1000 / inv.mean_ms, 1) if inv.mean_ms else None,
            path_name: round(1000 / pth.mean_ms, 1) if pth.mean_ms else None,
        },
    }


def path_rows(r: dict, path_name: str, label: str) -> list[tuple[str, ...]]:
    return [
        ("invoke (bare model)", f"{r['invoke']['p50_ms']:.2f}", f"{r['invoke']['p95_ms']:.2f}", str(r["fps"]["invoke_only"])),
        (label, f"{r[path_name]['p50_ms']:.2f}", f"{r[path_name]['p95_ms']:.2f}", str(r["fps"][path_name])),
        ("overhead over invoke", f"{r['overhead']['p50_ms']:.3f}", f"{r['overhead']['p95_ms']:.3f}",
         f"{r['overhead']['pct_of_invoke_p50']}% of invoke"),
        ("decode (separate)", f"{r['decode']['p50_ms']:.2f}", f"{r['decode']['p95_ms']:.2f}", ""),
    ]
