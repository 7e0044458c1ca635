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


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(title)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")


def dump(report: dict) -> None:
    print(json.dumps(report, indent=2))
