"""Options and output shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from edgeapp.registry import Registry, registry_from
from edgeapp.runtime.backend import BACKENDS, DEFAULT_DELEGATE, MAX_THREADS, BackendRequest
from edgeapp.runtime.model import Model


def short_gil_turns() -> None:
    """For the commands that run the service's frame loop (``run`` and the benchmarks of its path), and no other:
    the frame loop's Python between two invokes waits for the GIL while the finishing worker, capture or the
    publisher hold it, and CPython's default 5 ms turn is most of an invoke. A 0.5 ms turn cut the loop's time
    beyond the invokes by 0.1-0.6 ms a frame (bench pipeline --people 1,3, three alternated pairs). A command with
    one busy thread gains nothing from it and pays the extra switches."""
    sys.setswitchinterval(0.0005)


def whole_number(low: int, high: int):
    """An argparse type: a usage error (exit 2, argparse names the option) unless a whole number in low..high."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {text!r}") from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {n}")
        return n

    return parse


thread_count = whole_number(1, MAX_THREADS)  # --threads


def unit_interval(text: str) -> float:
    """An argparse type: a usage error (exit 2, argparse names the option) unless a number within 0..1."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number within 0..1, got {text!r}") from None
    if math.isnan(x) or not 0.0 <= x <= 1.0:  # nan compares false both ways: it would pass a range check
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {text!r}")
    return x


def output_problem(path: str | Path, option: str, folder: bool = False) -> str:
    """Why ``path`` cannot be written as the output file (or, with ``folder``, the output folder) of ``option``;
    "" when it can. Checked before the work, so a typo costs no MoveNet pass; the write itself can still fail
    (a full disk), and the writer names the path then."""
    path = Path(path)
    if path.is_dir() and not folder:
        return f"{option} {path} is a folder; give a file name"
    if path.exists() and not path.is_dir() and folder:
        return f"{option} {path} is a file; give a folder"
    if path.exists():
        return "" if os.access(path, os.W_OK) else f"{option} {path} is not writable"
    parent = path.parent
    while not parent.exists():  # the writer makes the missing folders
        parent = parent.parent
    if not parent.is_dir():
        return f"{option} {path}: {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK) or _read_only(parent):
        return f"{option} {path}: cannot create anything in {parent}"
    return ""


def _read_only(folder: Path) -> bool:
    """True when nothing can be created in ``folder`` (root passes os.access on /proc and read-only mounts)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            return False
    except OSError:
        return True


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="where models run: the Edge TPU, the CPU, or the TPU when present (default auto)")
    parser.add_argument("--threads", type=thread_count, default=4, help="CPU threads per model (default 4)")
    parser.add_argument("--device", default="usb", help="Edge TPU device: usb, pci, usb:N, pci:N (default usb)")
    parser.add_argument("--delegate", default=DEFAULT_DELEGATE, help=f"Edge TPU delegate library (default {DEFAULT_DELEGATE})")
    parser.add_argument("--models-dir", default=None, help="where model files live (default: $EDGEAPP_MODELS_DIR or models/)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def add_clip_bench_options(parser: argparse.ArgumentParser) -> None:
    """The options of the benchmarks that time a path frame by frame over a clip."""
    parser.add_argument("--source", required=True, help="a video clip (or image folder) to read frames from")
    parser.add_argument("--frames", type=int, default=200, help="frames to time (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed frames first (default 10)")
    add_json_option(parser)


def backend_request(args: argparse.Namespace) -> BackendRequest:
    return BackendRequest(kind=args.backend, device=args.device, threads=args.threads, delegate_library=args.delegate)


def runtime_table(args: argparse.Namespace) -> dict:
    """The backend options as the service config's ``[runtime]`` table."""
    return {"backend": args.backend, "threads": args.threads, "edgetpu_device": args.device,
            "delegate": args.delegate, "models_dir": args.models_dir or ""}


def registry(args: argparse.Namespace) -> Registry:
    return registry_from(getattr(args, "models_dir", None))


def open_model(args: argparse.Namespace, name_or_file: str | None, task: str) -> Model:
    files = registry(args).resolve(name_or_file, task)
    return Model.open(files, backend_request(args))


def emit(obj: dict, stream=None) -> None:
    """One JSON object per line, flushed, so a pipe sees each frame as it happens."""
    stream = stream or sys.stdout
    stream.write(json.dumps(obj, separators=(",", ":")) + "\n")
    stream.flush()
