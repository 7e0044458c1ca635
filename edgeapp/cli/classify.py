"""``edgeapp infer classify``, ``edgeapp classifier extract|train`` and ``edgeapp bench classify``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgeapp.camera import open_source
from edgeapp.errors import ConfigError
from edgeapp.classify.classifier import DEFAULT_THRESHOLD, DEFAULT_TOP_K, PoseClassifier
from edgeapp.classify.config import ClassifyConfig
from edgeapp.classify.hold import HoldConfig, HoldTracker
from edgeapp.classify.stage import open_classifier
from edgeapp.cli import usage_error
from edgeapp.cli.common import add_backend_options, add_clip_bench_options, emit, open_model, registry
from edgeapp.pose import MoveNet
from edgeapp.pose.movenet import STILL_IMAGE_PASSES
from edgeapp.registry import DEFAULT_MODELS
from edgeapp.settings import read

_HOLD = HoldConfig()


def register(cli) -> None:
    p = cli.add("infer", "classify", "classify one person's pose (yoga) on an image, a folder of images or a video, "
                "with stable labels and hold times")
    p.add_argument("path", help="an image, a folder of images, or a video file")
    _pose_options(p)
    p.add_argument("--classifier", default=None,
                   help="registry name or .tflite file (default yoga-classifier); its contract is read from "
                        "NAME.contract.json beside it, else the stock yoga model's (y, x, score) in pixels")
    p.add_argument("--labels", default=None, help="labels file, one per line (default: the registry's, the "
                   "contract's or labels.txt beside the model)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"classify only when every keypoint scores at least this (default {DEFAULT_THRESHOLD})")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help=f"labels in 'scores' (default {DEFAULT_TOP_K})")
    p.add_argument("--confirm-frames", type=int, default=_HOLD.confirm_frames,
                   help=f"a label becomes current after winning this many frames in a row (default {_HOLD.confirm_frames})")
    p.add_argument("--confirm-s", type=float, default=_HOLD.confirm_s,
                   help=f"... spanning at least this many seconds of frame time (default {_HOLD.confirm_s})")
    p.add_argument("--release-frames", type=int, default=_HOLD.release_frames,
                   help=f"the current pose ends after losing this many frames in a row (default {_HOLD.release_frames})")
    p.add_argument("--release-s", type=float, default=_HOLD.release_s,
                   help=f"... spanning at least this many seconds (default {_HOLD.release_s})")
    p.add_argument("--milestone-s", type=float, default=_HOLD.milestone_s,
                   help=f"a 'held' event every this many seconds of hold, 0 for none (default {_HOLD.milestone_s})")
    add_backend_options(p)
    p.set_defaults(func=run_infer)

    e = cli.add("classifier", "extract", "write the keypoints of IMAGES_DIR/<class>/*.{jpg,jpeg,png,bmp} as the "
                "tutorial's CSV (columns NAME_x, NAME_y, NAME_score: x before y, in pixels)")
    e.add_argument("images_dir", help="a folder with one sub-folder of images per class")
    e.add_argument("--out", required=True, help="the CSV to write")
    e.add_argument("--pose-model", default=None, help="registry name or .tflite file (default movenet-lightning-int8)")
    e.add_argument("--passes", type=int, default=STILL_IMAGE_PASSES,
                   help=f"smart-crop passes per image (default {STILL_IMAGE_PASSES}, as the tutorial)")
    e.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"skip images with a keypoint under this score (default {DEFAULT_THRESHOLD})")
    add_backend_options(e)
    e.set_defaults(func=run_extract)

    t = cli.add("classifier", "train", "train the tutorial's pose classifier on a keypoint CSV (needs the train "
                "extra: TensorFlow) and export DIR/classifier.tflite, labels.txt, its contract and a report")
    t.add_argument("--csv", required=True, help="training keypoints (tutorial CSV layout)")
    t.add_argument("--test-csv", default=None, help="test keypoints for the report (default: the validation split)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--columns", choices=("xy", "yx"), default="xy",
                   help="what the CSVs' NAME_x, NAME_y columns hold: xy as named (default), or yx for files "
                        "that are mislabelled")
    t.add_argument("--order", choices=("yx", "xy"), default="yx",
                   help="input order of the exported model (default yx, the stock model's and the samples')")
    t.add_argument("--epochs", type=int, default=200, help="at most this many epochs (default 200)")
    t.add_argument("--patience", type=int, default=20, help="early stopping patience in epochs (default 20)")
    t.add_argument("--batch-size", type=int, default=16, help="default 16")
    t.add_argument("--seed", type=int, default=42, help="default 42")
    t.add_argument("--no-quantize", action="store_true", help="keep float weights (default: dynamic-range "
                   "quantization, as the tutorial)")
    t.set_defaults(func=run_train)

    b = cli.add("bench", "classify", "time classification per frame next to the pose path it follows")
    add_clip_bench_options(b)
    b.add_argument("--pose-model", default=None, help="registry name or .tflite file")
    b.add_argument("--classifier", default=None, help="registry name or .tflite file (default yoga-classifier)")
    b.add_argument("--labels", default=None, help="labels file")
    add_backend_options(b)
    b.set_defaults(func=run_bench)


def _pose_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pose-model", default=None, help="registry name or .tflite file (default movenet-lightning-int8)")
    p.add_argument("--no-crop", action="store_true", help="always run MoveNet on the whole frame padded to a square")
    p.add_argument("--passes", type=int, default=STILL_IMAGE_PASSES,
                   help=f"passes per still image, each refining the crop (default {STILL_IMAGE_PASSES})")


def _classifier(args: argparse.Namespace, threshold: float, top_k: int) -> PoseClassifier:
    config = ClassifyConfig(model=args.classifier or DEFAULT_MODELS["classify"], labels=args.labels or "",
                            threshold=threshold, top_k=top_k)
    return open_classifier(config, registry(args))


def run_infer(args: argparse.Namespace) -> int:
    if args.passes < 1:
        return usage_error("--passes must be at least 1")
    if not 0.0 <= args.threshold <= 1.0:
        return usage_error(f"--threshold must be within 0..1, got {args.threshold}")
    if args.top_k < 1:
        return usage_error("--top-k must be at least 1")
    try:
        hold = read(HoldConfig, {"confirm_frames": args.confirm_frames, "confirm_s": args.confirm_s,
                                 "release_frames": args.release_frames, "release_s": args.release_s,
                                 "milestone_s": args.milestone_s})
    except ConfigError as exc:  # the config's key is the flag's name
        return usage_error(f"--{exc.path.replace('_', '-')} {exc.message}")
    classifier = _classifier(args, args.threshold, args.top_k)
    model = open_model(args, args.pose_model, "pose")
    estimator = MoveNet(model, smart_crop=not args.no_crop)
    tracker = HoldTracker(hold)
    source = open_source(args.path)
    last = None
    try:
        for frame in source.frames():
            if source.still:
                pose = estimator.estimate_still(frame.image, args.passes)
            else:
                pose = estimator.estimate(frame.image)
            c = classifier.classify(pose)
            obj = {"source": frame.source, "frame": frame.index, "time": round(frame.time, 3),
                   "backend": model.info.backend, **c.to_dict(), "pose": pose.to_dict()}
            if source.still:  # unrelated images: nothing is held from one to the next
                obj.update(hold=None, events=[])
            else:
                events = tracker.update(c.label, frame.time)
                obj.update(hold=tracker.state.to_dict(), events=[e.to_dict() for e in events])
            emit(obj)
            last = frame
    finally:
        source.close()
    if last is not None and not source.still:
        ended = tracker.finish()
        if ended:  # the clip ended while a pose was held
            emit({"source": last.source, "frame": last.index, "time": round(last.time, 3),
                  "events": [e.to_dict() for e in ended]})
    return 0


def run_extract(args: argparse.Namespace) -> int:
    from edgeapp.classify.dataset import write_csv
    from edgeapp.classify.extract import extract

    if args.passes < 1:
        return usage_error("--passes must be at least 1")
    estimator = MoveNet(open_model(args, args.pose_model, "pose"))

    def progress(i: int, n: int, name: str) -> None:
        print(f"\r[{i}/{n}] {name[:60]:<60}", end="", file=sys.stderr, flush=True)

    result = extract(Path(args.images_dir), estimator, args.threshold, args.passes, progress)
    print(file=sys.stderr)
    write_csv(Path(args.out), result.table)
    counts = ", ".join(f"{k} {v}" for k, v in result.table.counts().items())
    print(f"wrote {len(result.table)} rows to {args.out} ({counts}); "
          f"columns per keypoint: x, y (pixels), score")
    if result.skipped:
        print(f"skipped {len(result.skipped)} images:")
        for name, reason in result.skipped:
            print(f"  {name}: {reason}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from edgeapp.classify.dataset import read_csv
    from edgeapp.classify.train import TrainConfig, print_progress, train

    try:
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
                             seed=args.seed, order=args.order, quantize=not args.no_quantize)
    except ValueError as exc:
        return usage_error(str(exc))
    table = read_csv(Path(args.csv), columns=args.columns)
    test = read_csv(Path(args.test_csv), columns=args.columns) if args.test_csv else None
    r = train(table, Path(args.out), config, test, progress=print_progress)
    print(f"exported {r.model_path} (+ labels.txt, {r.model_path.stem}.contract.json, report.md, report.json, "
          f"confusion_matrix.png)")
    print(f"{r.evaluated_on} accuracy {r.tflite.accuracy:.4f} ({r.tflite.n} rows) with the exported model; "
          f"Keras {r.keras.accuracy:.4f}; epochs {r.epochs_run} (best {r.best_epoch})")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from edgeapp.bench.classify import bench_classify, print_report

    classifier = _classifier(args, 0.0, DEFAULT_TOP_K)  # gate off: every frame pays the full classification
    estimator = MoveNet(open_model(args, args.pose_model, "pose"))
    report = bench_classify(estimator, classifier, open_source(args.source), frames=args.frames, warmup=args.warmup)
    print_report(report, as_json=args.json)
    return 0
