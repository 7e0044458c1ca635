"""``edgeapp infer reps`` and ``edgeapp bench reps``."""

from __future__ import annotations

import argparse
from dataclasses import replace

from edgeapp.camera import open_source
from edgeapp.cli import usage_error
from edgeapp.cli.common import add_backend_options, add_json_option, emit, open_model
from edgeapp.config import PoseConfig
from edgeapp.credentials import read_toml_file
from edgeapp.exercise import ExerciseLibrary, RepsStage
from edgeapp.exercise.config import RepsFile
from edgeapp.exercise.definition import BUILTIN
from edgeapp.pose import MoveNet
from edgeapp.pose.smoothing import PoseSmoother
from edgeapp.settings import read


def register(cli) -> None:
    p = cli.add("infer", "reps", "count exercise repetitions on a video, with each rep's depth, duration and tempo")
    p.add_argument("path", help="a video file")
    p.add_argument("--exercise", default=None,
                   help=f"{', '.join(BUILTIN)} or one defined in --config (default: the config's [reps] "
                        f"exercise, else squat)")
    p.add_argument("--config", default=None,
                   help="a TOML file whose [reps] and [exercise.<name>] tables are used (the service's config works)")
    p.add_argument("--side", choices=("left", "right", "better", "both"), default=None,
                   help="which side of the body to follow (default: the exercise's)")
    p.add_argument("--pose-model", default=None, help="registry name or .tflite file (default movenet-lightning-int8)")
    p.add_argument("--no-crop", action="store_true", help="always run MoveNet on the whole frame padded to a square")
    add_backend_options(p)
    p.set_defaults(func=run_infer)

    b = cli.add("bench", "reps", "time the keypoint filter and the repetition stage (signal, counter) per frame "
                "on synthetic poses")
    b.add_argument("--exercise", default="squat", help=f"one of {', '.join(BUILTIN)} (default squat)")
    b.add_argument("--frames", type=int, default=20000, help="frames to time (default 20000)")
    b.add_argument("--fps", type=float, default=30.0, help="frame rate of the synthetic clip (default 30)")
    add_json_option(b)
    b.set_defaults(func=run_bench)


def read_reps_config(path: str | None) -> RepsFile:
    """The ``[reps]`` and ``[exercise.*]`` tables of a TOML file (the defaults without one)."""
    if path is None:
        return RepsFile()
    data = read_toml_file(path, "reps config")
    return read(RepsFile, {k: v for k, v in data.items() if k in ("reps", "exercise")})


def stage_for(args: argparse.Namespace) -> RepsStage | int:
    """The stage the options ask for, or the exit status of a usage error."""
    file = read_reps_config(args.config)
    library, name = file.library, args.exercise or file.reps.exercise
    if name not in library.exercises:
        return usage_error(f"--exercise: unknown exercise {name!r}; known: {', '.join(library.names)}")
    if args.side:
        library = ExerciseLibrary({**library.exercises, name: replace(library.exercises[name], side=args.side)})
    return RepsStage(library, file.reps, name)


def run_infer(args: argparse.Namespace) -> int:
    stage = stage_for(args)
    if isinstance(stage, int):
        return stage
    source = open_source(args.path)
    if source.still:
        source.close()
        return usage_error(f"{args.path}: repetitions need a video (frame times), not still images")
    estimator = MoveNet(open_model(args, args.pose_model, "pose"), smart_crop=not args.no_crop)
    service = PoseConfig()  # as the service: its floor for "nobody there" and its keypoint filter
    steady = PoseSmoother(service.smoothing)
    last = r = None
    try:
        for frame in source.frames():
            pose = estimator.estimate(frame.image)
            pose = steady.pose(pose if pose.score >= service.min_person_score else None, frame.time)
            r = stage.update(pose, frame.time)
            emit({"frame": frame.index, "time": round(frame.time, 3), **r.to_dict()})
            last = frame
    finally:
        source.close()
    if last is not None:  # the open set ends with the clip; a movement still in progress is not a rep
        ended = stage.finish(last.time).get(None, ())
        emit({"frame": last.index, "time": round(last.time, 3), "exercise": stage.name, "reps": r.count,
              "final": True, "events": [e.to_dict() for e in ended]})
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from edgeapp.bench.reps import bench_reps, print_report

    if args.exercise not in BUILTIN:
        return usage_error(f"--exercise: unknown exercise {args.exercise!r}; known: {', '.join(BUILTIN)}")
    if args.frames < 1 or not 1 <= args.fps <= 240:
        return usage_error("--frames must be at least 1 and --fps within 1..240")
    print_report(bench_reps(args.exercise, args.frames, args.fps), as_json=args.json)
    return 0
