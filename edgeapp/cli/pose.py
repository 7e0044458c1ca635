"""``edgeapp infer pose`` and ``edgeapp bench pose``."""

from __future__ import annotations

import argparse

from edgeapp.bench.pose import bench_pose, print_report
from edgeapp.camera import open_source
from edgeapp.cli import usage_error
from edgeapp.cli.common import add_backend_options, add_clip_bench_options, emit, open_model
from edgeapp.pose import MoveNet
from edgeapp.pose.movenet import STILL_IMAGE_PASSES


def register(cli) -> None:
    p = cli.add("infer", "pose", "estimate one person's pose on an image, a folder of images or a video")
    p.add_argument("path", help="an image, a folder of images, or a video file")
    p.add_argument("--model", default=None, help="registry name or .tflite file (default movenet-lightning-int8)")
    p.add_argument("--no-crop", action="store_true", help="always run on the whole frame padded to a square")
    p.add_argument("--passes", type=int, default=STILL_IMAGE_PASSES,
                   help=f"passes per still image, each refining the crop (default {STILL_IMAGE_PASSES})")
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
                  "fallback": model.info.fallback, **pose.to_dict()})
    finally:
        source.close()
    return 0


def run_bench(args: argparse.Namespace) -> int:
    model = open_model(args, args.model, "pose")
    report = bench_pose(model, open_source(args.source, loop=True), frames=args.frames, warmup=args.warmup)
    print_report(report, as_json=args.json)
    return 0
