"""``edgeapp infer detect`` and ``edgeapp bench detect``."""

from __future__ import annotations

import argparse
from typing import Iterator

from edgeapp.camera import Frame, open_source
from edgeapp.cli import usage_error
from edgeapp.cli.common import add_backend_options, add_clip_bench_options, backend_request, emit, registry
from edgeapp.bench.detect import bench_detect, print_report
from edgeapp.detect.detector import DetectConfig, Detector
from edgeapp.detect.tracker import TrackerUpdate
from edgeapp.evaluation.motfile import MotBox
from edgeapp.events.detection import detection_json
from edgeapp.settings import read


def register(cli) -> None:
    p = cli.add("infer", "detect", "detect objects on an image, a folder of images or a video (one JSON line per frame)")
    p.add_argument("path", help="an image, a folder of images, or a video file")
    _detect_options(p)
    p.set_defaults(func=run_infer)

    b = cli.add("bench", "detect", "time the bare detection invoke against the whole per-frame detection path")
    add_clip_bench_options(b)
    _detect_options(b)
    b.set_defaults(func=run_bench)


def _detect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="registry name or .tflite file (default ssd-mobilenet-v1-coco)")
    p.add_argument("--labels", default=None, help="labels file (default: the model's, from the registry)")
    p.add_argument("--threshold", type=float, default=None, help="minimum score (default 0.5)")
    p.add_argument("--labels-allow", default=None, help="only these labels, comma-separated (e.g. person,dog)")
    p.add_argument("--labels-deny", default=None, help="never these labels, comma-separated")
    p.add_argument("--max-results", type=int, default=None, help="at most this many detections per frame (default 10)")
    p.add_argument("--resize", choices=("stretch", "letterbox"), default=None,
                   help="how the frame fits the model's input (default stretch)")
    add_backend_options(p)


def detect_config(args: argparse.Namespace) -> DetectConfig:
    table = {k: v for k, v in {
        "model": args.model, "labels": args.labels, "threshold": args.threshold,
        "labels_allow": args.labels_allow, "labels_deny": args.labels_deny,
        "max_results": args.max_results, "resize": args.resize,
    }.items() if v is not None}
    return read(DetectConfig, table, "detect")


def open_detector(args: argparse.Namespace) -> Detector:
    return Detector.open(detect_config(args), backend_request(args), registry(args))


def tracked_frames(detector: Detector, source, seen: dict | None = None) -> Iterator[tuple[Frame, TrackerUpdate]]:
    """Each frame of ``source`` with its tracked detections; unrelated stills get no identities.
    ``seen``, if given, collects every frame's detections (MOTChallenge frame -> pixel boxes)."""
    tracker = detector.new_tracker()
    for frame in source.frames():
        if source.still:
            tracker = detector.new_tracker()
        detections = detector.detect(frame.image, floor=detector.tracking_floor)
        if seen is not None:
            w, h = frame.size
            seen[frame.index + 1] = [MotBox(None, d.box.scale(w, h), d.score) for d in detections]
        yield frame, tracker.update(detections, frame.index, frame.time)


def run_infer(args: argparse.Namespace) -> int:
    detector = open_detector(args)
    source = open_source(args.path)
    info = detector.model.info
    try:
        for frame, update in tracked_frames(detector, source):
            emit({"source": frame.source, "frame": frame.index, "time": round(frame.time, 3),
                  "backend": info.backend, "fallback": info.fallback,
                  "detections": [detection_json(d) for d in update.detections]})
    finally:
        source.close()
    return 0


def run_bench(args: argparse.Namespace) -> int:
    if args.frames < 1:
        return usage_error("--frames must be at least 1")
    report = bench_detect(open_detector(args), open_source(args.source), frames=args.frames, warmup=args.warmup)
    print_report(report, as_json=args.json)
    return 0
