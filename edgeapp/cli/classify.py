"""``edgeapp infer classify``, ``edgeapp classifier extract|train`` and ``edgeapp bench classify``."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable

from edgeapp.camera import open_source
from edgeapp.errors import ClassifyError, ConfigError, SourceError
from edgeapp.classify.classifier import DEFAULT_THRESHOLD, DEFAULT_TOP_K, PoseClassifier
from edgeapp.classify.config import ClassifyConfig
from edgeapp.classify.hold import HoldConfig, HoldTimer
from edgeapp.classify.stage import VideoClassifier, open_classifier
from edgeapp.classify.temporal import SmoothingConfig
from edgeapp.cli import usage_error
from edgeapp.cli.common import (add_backend_options, add_clip_bench_options, emit, open_model, output_problem,
                                registry, unit_interval)
from edgeapp.pose import MoveNet
from edgeapp.pose.movenet import STILL_IMAGE_PASSES
from edgeapp.pose.smoothing import PoseSmoother, PoseSmoothingConfig
from edgeapp.registry import DEFAULT_MODELS
from edgeapp.classify.negatives import STILL_EVERY
from edgeapp.settings import read
from edgeapp.events.pose import pose_json

_HOLD = HoldConfig()


def register(cli) -> None:
    p = cli.add("infer", "classify", "classify one person's pose (yoga) on an image, a folder of images or a video, "
                "with stable labels and hold times")
    p.add_argument("path", help="an image, a folder of images, or a video file")
    _pose_options(p)
    p.add_argument("--classifier", default=None,
                   help=f"registry name or .tflite file (default {DEFAULT_MODELS['classify']}, trained on what the "
                        "device sees; yoga-classifier is the stock TF model); its contract is read from "
                        "NAME.contract.json beside it, else the stock yoga model's (y, x, score) in pixels")
    p.add_argument("--labels", default=None, help="labels file, one per line (default: the registry's, the "
                   "contract's or labels.txt beside the model)")
    p.add_argument("--threshold", type=unit_interval, default=DEFAULT_THRESHOLD,
                   help="the TF sample's gate: classify only when every keypoint scores at least this "
                        f"(default {DEFAULT_THRESHOLD}: off; the body guard refuses bodies that are not there)")
    p.add_argument("--no-smoothing", action="store_true",
                   help="video: classify each frame on its own (no One Euro on the keypoints, no probability "
                        "smoothing); still images are never smoothed")
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

    e = cli.add("classifier", "extract", "write the keypoints of IMAGES_DIR/<class>/*.jpg (or .png, .webp, ... "
                "as infer reads) as the tutorial's CSV (columns NAME_x, NAME_y, NAME_score: x before y, in pixels)")
    e.add_argument("images_dir", help="a folder with one sub-folder of images per class")
    e.add_argument("--out", required=True, help="the CSV to write")
    e.add_argument("--pose-model", default=None, help="registry name or .tflite file (default movenet-lightning-int8)")
    e.add_argument("--passes", type=int, default=STILL_IMAGE_PASSES,
                   help=f"smart-crop passes per image (default {STILL_IMAGE_PASSES}, as the tutorial)")
    e.add_argument("--threshold", type=unit_interval, default=DEFAULT_THRESHOLD,
                   help="skip images with a keypoint under this score (default 0: keep every photo; 0.1 is the TF sample's gate)")
    e.add_argument("--variants", action="store_true",
                   help="write instead a row per pixel-level variant of each photo (mirror, JPEG 70, brighter, "
                        "darker, tilted 7 degrees each way, 15%% smaller), named PHOTO#VARIANT: extra training rows "
                        "for train --photo-variants")
    add_backend_options(e)
    e.set_defaults(func=run_extract)

    n = cli.add("classifier", "negatives", "write the poses of videos and photos with no yoga in them (and mirrored "
                "and cropped variants) as a keypoint CSV of the class 'other', for train --negatives")
    n.add_argument("sources", nargs="+", help="video files, images or folders of images")
    n.add_argument("--out", required=True, help="the CSV to write")
    n.add_argument("--pose-model", default=None, help="registry name or .tflite file (default movenet-lightning-int8)")
    n.add_argument("--still-every", type=int, default=STILL_EVERY,
                   help=f"every Nth video frame also in still mode with its variants (default {STILL_EVERY})")
    add_backend_options(n)
    n.set_defaults(func=run_negatives)

    t = cli.add("classifier", "train", "train the tutorial's pose classifier on a keypoint CSV (needs the train "
                "extra: TensorFlow) and export DIR/classifier.tflite, labels.txt, its contract and a report")
    t.add_argument("--csv", required=True, help="training keypoints (tutorial CSV layout)")
    t.add_argument("--test-csv", default=None, help="test keypoints for the report (default: the validation split)")
    t.add_argument("--negatives", nargs="+", default=None, metavar="CSV",
                   help="keypoint CSVs of poses that are none of the classes (classifier negatives): trained as "
                        "the class 'other', the model's 'none of these' answer")
    t.add_argument("--held-out-negatives", nargs="+", default=None, metavar="CSV",
                   help="with --by-person and --negatives: negatives no model is trained on, with which the "
                        "'other' threshold is balanced against the held-out people's poses")
    _photo_variants_option(t)
    t.add_argument("--recipe", choices=("tutorial", "device"), default="tutorial",
                   help="tutorial: the notebook's network and data as they are (default); device: the shipped "
                        "model's (joints under the body guard's score masked, augmentation, batch 128)")
    t.add_argument("--by-person", action="store_true",
                   help="leave-one-person-out first (file-name prefixes girl1_, guy2_...), choosing the open-set "
                        "threshold on the held-out people; the report lists each person")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--columns", choices=("xy", "yx"), default="xy",
                   help="what the CSVs' NAME_x, NAME_y columns hold: xy as named (default), or yx for files "
                        "that are mislabelled")
    t.add_argument("--order", choices=("yx", "xy"), default="yx",
                   help="input order of the exported model (default yx, the stock model's and the samples')")
    t.add_argument("--epochs", type=int, default=None, help="at most this many epochs (default 200; device: 120)")
    t.add_argument("--patience", type=int, default=None, help="early stopping patience (default 20; device: 15)")
    t.add_argument("--limit", type=int, default=None,
                   help="use only every Nth row of each CSV (a capped run, e.g. for CI)")
    t.add_argument("--batch-size", type=int, default=None, help="default 16 (the device recipe: 128)")
    t.add_argument("--members", type=int, default=None,
                   help="networks trained from seeds SEED, SEED+1, ..., their probabilities averaged in the exported "
                        "model (default 1; device: 3)")
    t.add_argument("--synthetic", type=int, default=None, metavar="N",
                   help="N poses per class from 3D templates seen by random cameras join each network's fitting "
                        "rows (yoga's five classes only; default 0, the device recipe: 200)")
    t.add_argument("--seed", type=int, default=42, help="default 42")
    t.add_argument("--no-quantize", action="store_true", help="keep float weights (default: dynamic-range "
                   "quantization, as the tutorial)")
    t.set_defaults(func=run_train)

    v = cli.add("classifier", "evaluate", "accuracy, 'other' and refused rates, per-class precision/recall and the "
                "confusion matrix of a classifier on IMAGES_DIR/<class>/*.jpg (or a keypoint CSV), and how often it "
                "names a pose on negatives")
    v.add_argument("images_dir", help="a folder with one sub-folder of images per class, or a keypoint CSV")
    v.add_argument("--negatives", nargs="+", default=None, metavar="PATH",
                   help="poses that are none of the classes: keypoint CSVs, videos, images or folders of images")
    v.add_argument("--by-person", action="store_true",
                   help="leave-one-person-out with the device recipe instead (needs TensorFlow): train on all "
                        "people but one, answer for that one, per file-name prefix (girl1_, guy2_, ...)")
    _photo_variants_option(v)
    v.add_argument("--classifier", default=None, help=f"registry name or .tflite file (default {DEFAULT_MODELS['classify']})")
    v.add_argument("--labels", default=None, help="labels file")
    v.add_argument("--report", default=None, metavar="DIR",
                   help="write evaluation.md, evaluation.json and confusion_matrix.png here")
    v.add_argument("--pose-model", default=None, help="registry name or .tflite file (default movenet-lightning-int8)")
    add_backend_options(v)
    v.set_defaults(func=run_evaluate)

    b = cli.add("bench", "classify", "time classification per frame next to the pose path it follows")
    add_clip_bench_options(b)
    b.add_argument("--pose-model", default=None, help="registry name or .tflite file")
    b.add_argument("--classifier", default=None, help="registry name or .tflite file (default yoga-classifier)")
    b.add_argument("--labels", default=None, help="labels file")
    add_backend_options(b)
    b.set_defaults(func=run_bench)

    m = cli.add("bench", "smoothing", "keypoint jitter on a still person and the lag of the One Euro filter on a "
                "moving one, from one photo (still with sensor noise, then sliding sideways)")
    m.add_argument("image", help="a photo of one person")
    m.add_argument("--fps", type=float, default=15.0, help="frame rate of the made-up clip (default 15)")
    m.add_argument("--speed", type=float, default=60.0, help="sideways speed in pixels per second (default 60)")
    m.add_argument("--pose-model", default=None, help="registry name or .tflite file")
    m.add_argument("--json", action="store_true", help="print the report as JSON")
    add_backend_options(m)
    m.set_defaults(func=run_bench_smoothing)


def _photo_variants_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photo-variants", default=None, metavar="CSV",
                   help="keypoints of pixel-level variants of the training photos (extract --variants): each joins "
                        "the training rows when its photo does, never the validation or held-out ones")


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
    tracker = HoldTimer(hold)
    video = VideoClassifier(classifier, None if args.no_smoothing else SmoothingConfig())
    steady = PoseSmoother(PoseSmoothingConfig(enabled=not args.no_smoothing))  # the service's pose-stage filter
    source = open_source(args.path)
    last = None
    broken: SourceError | None = None
    try:
        for frame in source.frames():
            if source.still:
                pose = estimator.estimate_still(frame.image, args.passes)
                c = classifier.classify(pose)
            else:
                pose = steady.pose(estimator.estimate(frame.image), frame.time)
                c = video.classify(pose, frame.time)
            obj = {"source": frame.source, "frame": frame.index, "time": round(frame.time, 3),
                   "backend": model.info.backend, **c.to_dict(), "pose": pose_json(pose) if pose else None}
            if source.still:  # unrelated images: nothing is held from one to the next
                obj.update(hold=None, events=[])
            else:
                events = tracker.update(c.label, frame.time)
                obj.update(hold=tracker.state.to_dict(), events=[e.to_dict() for e in events])
            emit(obj)
            last = frame
    except SourceError as exc:  # a truncated video: its frames up to the break were real, so is the hold's end
        broken = exc
    finally:
        source.close()
    if last is not None and not source.still:
        ended = tracker.finish()
        if ended:  # the clip ended (or broke off) while a pose was held
            emit({"source": last.source, "frame": last.index, "time": round(last.time, 3),
                  "events": [e.to_dict() for e in ended]})
    if broken is not None:
        raise broken
    return 0


def run_extract(args: argparse.Namespace) -> int:
    from edgeapp.classify.dataset import write_csv
    from edgeapp.classify.extract import extract

    if args.passes < 1:
        return usage_error("--passes must be at least 1")
    if problem := output_problem(args.out, "--out"):
        return usage_error(problem)
    estimator = _movenet(args)

    def progress(i: int, n: int, name: str) -> None:
        print(f"\r[{i}/{n}] {name[:60]:<60}", end="", file=sys.stderr, flush=True)

    try:
        result = extract(Path(args.images_dir), estimator, args.threshold, args.passes, progress, args.variants)
    finally:  # end the progress line, so an error starts on its own
        print(file=sys.stderr)
    write_csv(Path(args.out), result.table)
    counts = ", ".join(f"{k} {v}" for k, v in result.table.counts().items())
    print(f"wrote {len(result.table)} rows to {args.out} ({counts}); "
          f"columns per keypoint: x, y (pixels), score")
    _print_skipped(result.skipped, sys.stdout)
    return 0


def _print_skipped(skipped: list[tuple[str, str]], stream) -> None:
    if skipped:
        print(f"skipped {len(skipped)} images:", file=stream)
        for name, reason in skipped:
            print(f"  {name}: {reason}", file=stream)


def run_negatives(args: argparse.Namespace) -> int:
    from edgeapp.classify.dataset import write_csv
    from edgeapp.classify.negatives import mine

    if args.still_every < 1:
        return usage_error("--still-every must be at least 1")
    if problem := output_problem(args.out, "--out"):
        return usage_error(problem)
    estimator = _movenet(args)
    try:
        table = mine([Path(s) for s in args.sources], estimator, args.still_every,
                     progress=lambda tag: print(f"\r{tag[:70]:<70}", end="", file=sys.stderr, flush=True))
    finally:  # end the progress line, so an error starts on its own
        print(file=sys.stderr)
    write_csv(Path(args.out), table)
    print(f"wrote {len(table)} rows of class 'other' to {args.out}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from edgeapp.classify.dataset import read_csv, thin
    from edgeapp.classify.recipe import DEVICE, train_device_model, with_photo_variants
    from edgeapp.classify.train import TrainConfig, print_progress

    base = DEVICE if args.recipe == "device" else TrainConfig()
    overrides = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                   ("patience", args.patience), ("members", args.members),
                                   ("synthetic", args.synthetic)) if v is not None}
    if args.limit is not None and args.limit < 1:
        return usage_error("--limit must be at least 1")
    if problem := output_problem(args.out, "--out", folder=True):
        return usage_error(problem)
    try:
        config = replace(base, seed=args.seed, order=args.order, quantize=not args.no_quantize, **overrides)
    except ClassifyError as exc:
        return usage_error(str(exc))
    table = thin(read_csv(Path(args.csv), columns=args.columns), args.limit)
    test = read_csv(Path(args.test_csv), columns=args.columns) if args.test_csv else None
    negatives = _negatives(args.negatives, args.columns, args.limit)
    variants = _photo_variants(args.photo_variants, table, args.columns)
    if variants is not None:
        config = with_photo_variants(config)
    config = _for_classes(config, table.labels)
    r, people = train_device_model(table, Path(args.out), negatives, config, by_person=args.by_person,
                                   variants=variants,
                                   progress=print_progress, note=lambda line: print(line, file=sys.stderr),
                                   test=test, held_out_negatives=_negatives(args.held_out_negatives, args.columns,
                                                                            args.limit))
    print(f"exported {r.model_path} (+ labels.txt, {r.model_path.stem}.contract.json, report.md, report.json, "
          f"confusion_matrix.png)")
    print(f"{r.evaluated_on} accuracy {r.tflite.accuracy:.4f} ({r.tflite.n} rows) with the exported model; "
          f"Keras {r.keras.accuracy:.4f}; epochs " + ", ".join(f"{run} (best {best})" for run, best in r.members)
          + (f" ({len(r.members)} networks averaged)" if len(r.members) > 1 else ""))
    for p in people:
        print(f"held out {p.person}: {p.right}/{p.n} right ({p.right / p.n:.2%}), {p.other} other, "
              f"{p.refused} no confident pose")
    if people:
        print(f"open-set thresholds written to the contract: other_threshold {r.contract.other_threshold}, "
              f"min_probability {r.contract.min_probability:.4f}")
    return 0


def _for_classes(config, labels):
    """The recipe for these classes (recipe.for_classes), saying on stderr what it left out."""
    from edgeapp.classify.recipe import for_classes

    config, note = for_classes(config, labels)
    if note:
        print(note, file=sys.stderr)
    return config


def _photo_variants(path: str | None, table, columns: str = "xy"):
    """The variants CSV, checked against the training table: a variant of no photo in it is a usage mistake
    (another dataset's file) that would otherwise train on nothing and say nothing."""
    if path is None:
        return None
    from edgeapp.classify.dataset import DatasetError, read_csv
    from edgeapp.classify.train import variants_of

    variants = read_csv(Path(path), columns=columns)
    if not len(variants_of(table, variants)):
        raise DatasetError(f"{path}: none of its rows is a variant of a photo in the training CSV "
                           "(rows are named <class>/<photo>#<variant>, made by classifier extract --variants)")
    return variants


def _negatives(paths: list[str] | None, columns: str = "xy", limit: int | None = None,
               pose: Callable[[], MoveNet] | None = None):
    """Negatives as one table (every ``limit``-th row): keypoint CSVs, and with ``pose`` (what makes the
    estimator) videos, images and folders too, mined as ``classifier negatives`` does."""
    from edgeapp.classify.dataset import concat, read_csv, thin
    from edgeapp.classify.negatives import mine

    if not paths:
        return None
    media = [Path(p) for p in paths if pose is not None and not p.lower().endswith(".csv")]
    tables = [read_csv(Path(p), columns=columns) for p in paths if Path(p) not in media]
    if media:
        tables.append(mine(media, pose()))
    return thin(concat(tables), limit)


def _keypoints(path: Path, args: argparse.Namespace):
    """A keypoint CSV as it is, or a folder of class folders through MoveNet (still-image mode); and the
    photos that gave no row (class/file, reason)."""
    from edgeapp.classify.dataset import read_csv
    from edgeapp.classify.extract import extract

    if path.suffix.lower() == ".csv":
        return read_csv(path), []
    result = extract(path, _movenet(args), 0.0)
    return result.table, result.skipped


def _movenet(args: argparse.Namespace) -> MoveNet:
    return MoveNet(open_model(args, args.pose_model, "pose"))


def run_evaluate(args: argparse.Namespace) -> int:
    from edgeapp.classify.evaluate import (check_classes, describe, evaluate_negatives, evaluate_with_variants,
                                           write_report)

    if args.report and (problem := output_problem(args.report, "--report", folder=True)):
        return usage_error(problem)
    table, skipped = _keypoints(Path(args.images_dir), args)
    _print_skipped(skipped, sys.stderr)  # stdout holds the figures; these photos are not in them
    negatives = _negatives(args.negatives, pose=lambda: _movenet(args))
    if args.photo_variants and not args.by_person:
        return usage_error("--photo-variants are training rows: they need --by-person")
    if args.by_person:
        from edgeapp.classify.recipe import DEVICE, leave_one_person_out, with_photo_variants

        variants = _photo_variants(args.photo_variants, table)
        config = _for_classes(DEVICE if variants is None else with_photo_variants(DEVICE), table.labels)
        thresholds, people, _ = leave_one_person_out(table, negatives, config,
                                                     progress=lambda line: print(line, file=sys.stderr),
                                                     variants=variants)
        print(f"leave-one-person-out, device recipe; open-set thresholds chosen on the held-out poses {thresholds}")
        for p in people:
            print(f"{p.person}: {p.right}/{p.n} right ({p.right / p.n:.2%}), other {p.other} ({p.other / p.n:.2%}), "
                  f"refused {p.refused} ({p.refused / p.n:.2%})")
        n = sum(p.n for p in people)
        print(f"all: {sum(p.right for p in people) / n:.2%} right, {sum(p.other + p.refused for p in people) / n:.2%} "
              "other or refused")
        return 0
    classifier = _classifier(args, DEFAULT_THRESHOLD, DEFAULT_TOP_K)
    check_classes(table, classifier, args.images_dir)
    ev, variants = evaluate_with_variants(classifier, table)
    neg = evaluate_negatives(classifier, negatives) if negatives is not None else None
    c = classifier.contract
    print(f"{classifier.model.path.name} (open set: min_probability {c.min_probability:.4f}"
          f"{f', other_label {c.other_label!r} above {c.other_threshold}' if c.other_label else ''})")
    print(describe(ev, neg, variants))
    if args.report:
        write_report(ev, neg, Path(args.report), classifier.model.path.name, skipped, variants)
        print(f"report: {args.report}/evaluation.md, confusion_matrix.png")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from edgeapp.bench.classify import bench_classify, print_report

    classifier = _classifier(args, 0.0, DEFAULT_TOP_K)  # gate off: every frame pays the full classification
    estimator = _movenet(args)
    report = bench_classify(estimator, classifier, open_source(args.source), frames=args.frames, warmup=args.warmup)
    print_report(report, as_json=args.json)
    return 0


def run_bench_smoothing(args: argparse.Namespace) -> int:
    from edgeapp.camera.files import read_image
    from edgeapp.bench.classify import bench_smoothing, print_smoothing

    if not all(0 < v < math.inf for v in (args.fps, args.speed)):  # nan fails both comparisons
        return usage_error(f"--fps and --speed must be finite numbers above 0, got {args.fps} and {args.speed}")
    estimator = _movenet(args)
    print_smoothing(bench_smoothing(estimator, read_image(Path(args.image)), args.fps, speed_px_s=args.speed),
                    as_json=args.json)
    return 0
