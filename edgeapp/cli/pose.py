"""``edgeapp infer pose`` and ``edgeapp bench pose``."""

from __future__ import annotations

import argparse

from edgeapp.bench.pose import bench_pose, print_report
from edgeapp.camera import open_source
from edgeapp.cli import usage_error
from edgeapp.cli.common import add_backend_options, add_clip_bench_options, backend_request, emit, open_model, registry
from edgeapp.cli.detect import tracked_frames
from edgeapp.detect.detector import DetectConfig, Detector
from edgeapp.events.pose import person_json, pose_json
from edgeapp.pose import MoveNet
from edgeapp.pose.movenet import STILL_IMAGE_PASSES
from edgeapp.pose.people import MAX_PEOPLE, SELECT_RULES, People, estimate_crops, still_people
from edgeapp.settings import read


def register(cli) -> None:
    p = cli.add("infer", "pose", "estimate one person's pose on an image, a folder of images or a video")
    p.add_argument("path", help="an image, a folder of images, or a video file")
    p.add_argument("--model", default=None, help="registry name or .tflite file (default movenet-lightning-int8)")
    p.add_argument("--no-crop", action="store_true", help="always run on the whole frame padded to a square")
    p.add_argument("--passes", type=int, default=STILL_IMAGE_PASSES,
                   help=f"passes per still image, each refining the crop (default {STILL_IMAGE_PASSES})")
    p.add_argument("--people", type=int, default=None,
                   help=f"find people with the detector and estimate up to N poses, each with its track id "
                        f"(1..{MAX_PEOPLE}; default: one pose, no detector)")
    p.add_argument("--select", choices=[r for r in SELECT_RULES if r != "target"], default="largest",
                   help="with --people, who comes first (default largest); the choice sticks while a track lives")
    p.add_argument("--detect-model", default=None, help="with --people: the detector (default ssd-mobilenet-v1-coco)")
    p.add_argument("--detect-labels", default=None,
                   help="with --people: the detector's labels file (default: the model's)")
    add_backend_options(p)
    p.set_defaults(func=run_infer)

    b = cli.add("bench", "pose", "time the bare MoveNet invoke against the whole per-frame pose path")
    b.add_argument("--model", default=None, help="registry name or .tflite file")
    add_clip_bench_options(b)
    add_backend_options(b)
    b.set_defaults(func=run_bench)


def run_infer(args: argparse.Namespace) -> int:
    if args.passes < 1:
        return usage_error("--passes must be at least 1")
    if args.people is not None and not 1 <= args.people <= MAX_PEOPLE:
        return usage_error(f"--people must be from 1 to {MAX_PEOPLE}, got {args.people}")
    if args.people is not None:
        return run_infer_people(args)
    model = open_model(args, args.model, "pose")
    estimator = MoveNet(model, smart_crop=not args.no_crop)
    source = open_source(args.path)
    backend = model.info.backend
    try:
        for frame in source.frames():
            if source.still:
                pose = estimator.estimate_still(frame.image, args.passes)
            else:  # video: the crop follows the body from frame to frame
                pose = estimator.estimate(frame.image)
            emit({"source": frame.source, "frame": frame.index, "time": round(frame.time, 3), "backend": backend,
                  "fallback": model.info.fallback, **pose_json(pose)})
    finally:
        source.close()
    return 0


def run_infer_people(args: argparse.Namespace) -> int:
    model = open_model(args, args.model, "pose")
    movenet = MoveNet(model)
    table = {"model": args.detect_model, "labels": args.detect_labels}
    config = read(DetectConfig, {k: v for k, v in table.items() if v}, "detect")
    detector = Detector.open(config, backend_request(args), registry(args))
    source = open_source(args.path)
    try:
        for frame, people in tracked_people(movenet, detector, source, args.people, args.select, args.passes):
            emit({"source": frame.source, "frame": frame.index, "time": round(frame.time, 3),
                  "backend": model.info.backend, "fallback": model.info.fallback,
                  "people": [person_json(p) for p in people]})
    finally:
        source.close()
    return 0


def tracked_people(movenet: MoveNet, detector: Detector, source, n: int, rule: str, passes: int):
    """Each frame with up to ``n`` people's poses: on a video the people are tracked and each crop
    follows its person; a still image is refined over ``passes`` per person."""
    people = People(n, rule)
    for frame, update in tracked_frames(detector, source):
        if source.still:
            yield frame, still_people(movenet, frame.image, update.detections, n, rule, passes)
            continue
        w, h = frame.size
        alive = {t.id: t.box for t in update.tracks if t.confirmed}
        people.plan(update.detections, alive, w, h)
        yield frame, people.observe(estimate_crops(movenet, frame.image, people.crops))


def run_bench(args: argparse.Namespace) -> int:
    model = open_model(args, args.model, "pose")
    report = bench_pose(model, open_source(args.source, loop=True), frames=args.frames, warmup=args.warmup)
    print_report(report, as_json=args.json)
    return 0
