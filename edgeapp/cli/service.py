"""``edgeapp run`` and ``edgeapp config check``."""

from __future__ import annotations

import argparse
import logging

from edgeapp import logs
from edgeapp.cli import usage_error
from edgeapp.cli.common import add_backend_options, add_json_option, runtime_table, short_gil_turns
from edgeapp.config import DEFAULT_CONFIG, load_config
from edgeapp.service.runner import run_service, with_overrides


def register(cli) -> None:
    p = cli.command("run", "run the service: camera, models, events (what systemd starts)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help=f"TOML config (default {DEFAULT_CONFIG})")
    p.add_argument("--source", default=None, help="override [source] uri: a file, folder, /dev/videoN, URL, picamera2")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    p.add_argument("--print-events", action="store_true", help="also print every event as a JSON line on stdout")
    p.set_defaults(func=run)

    cli.group("config", "configuration files")
    c = cli.add("config", "check", "validate a config file without starting anything")
    c.add_argument("file")
    c.set_defaults(func=check)

    d = cli.command("doctor", "check runtime, models, camera, Edge TPU, broker and config; exit 0 only if all are fine, "
                                      "1 if any failed, 3 if the worst is a warning")
    d.add_argument("--config", default=str(DEFAULT_CONFIG), help=f"TOML config (default {DEFAULT_CONFIG})")
    d.add_argument("--camera-timeout", type=float, default=10.0, help="seconds to wait for a first frame")
    d.set_defaults(func=doctor)

    b = cli.add("bench", "pipeline", "end-to-end fps of the service path against the bare models, startup, peak RSS")
    b.add_argument("--source", required=True, help="a clip (read without dropping)")
    b.add_argument("--tasks", default="pose,classify,detect", help="comma-separated: pose, classify, detect, track")
    b.add_argument("--frames", type=int, default=300)
    add_backend_options(b)
    b.add_argument("--people", default="1",
                   help="pose.people, or a comma-separated list to run once each and compare (e.g. 1,3); "
                        "needs detect among the tasks for more than one")
    b.add_argument("--broker", default="local",
                   help="HOST:PORT of a broker, 'local' to start a private mosquitto (default), or 'none'")
    add_json_option(b)
    b.set_defaults(func=bench_pipeline)


def configure_logging(level: str) -> None:
    """The config's ``service.log_level``, unless ``-v`` already asked for more."""
    wanted, current = getattr(logging, level.upper()), logging.getLogger().level
    logs.configure(wanted if current == logging.WARNING else min(current, wanted))


def run(args: argparse.Namespace) -> int:
    if args.max_frames is not None and args.max_frames < 1:
        return usage_error("--max-frames must be at least 1")
    config = with_overrides(load_config(args.config), args.source)
    configure_logging(config.service.log_level)
    short_gil_turns()  # the frame loop takes turns at the GIL with its threads between invokes
    return run_service(config, max_frames=args.max_frames, print_events=args.print_events)


def check(args: argparse.Namespace) -> int:
    from edgeapp.service.model_check import require_models

    config = load_config(args.file)
    require_models(config)  # opens the models: a check may take the time a start would
    enabled = [name for name, on in vars(config.tasks).items() if on]
    print(f"{args.file}: ok (source {config.source.uri}; tasks {', '.join(enabled)}; "
          f"mqtt {'on' if config.mqtt.enabled else 'off'})")
    return 0


def doctor(args: argparse.Namespace) -> int:
    from edgeapp.service.doctor import exit_status, print_checks, run_checks

    checks = run_checks(args.config, args.camera_timeout)
    print_checks(checks)
    return exit_status(checks)


def bench_pipeline(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from edgeapp.bench.pipeline import (PEOPLE_CHUNK, PEOPLE_WARMUP, bench_people, bench_pipeline as bench, config_for,
                                        print_people_cost, print_report)

    try:
        people_counts = list(dict.fromkeys(int(n) for n in args.people.split(",")))
    except ValueError:
        return usage_error(f"--people must be whole numbers separated by commas, got {args.people!r}")
    if len(people_counts) > 1 and 2 * args.frames < PEOPLE_WARMUP + 2 * PEOPLE_CHUNK * len(people_counts):
        return usage_error(f"--people {args.people} takes turns {PEOPLE_CHUNK} frames each after {PEOPLE_WARMUP} "
                           f"warm-up frames: give --frames {(PEOPLE_WARMUP + 1) // 2 + PEOPLE_CHUNK * len(people_counts)} "
                           f"or more, got {args.frames}")

    short_gil_turns()  # as `run` has them: the figures are the service's
    with tempfile.TemporaryDirectory(prefix="edgeapp-bench-") as tmp:
        broker, local = None, None
        if args.broker == "local":
            from edgeapp.bench.mqtt import LocalMosquitto

            local = LocalMosquitto(Path(tmp) / "broker").start()
            broker = ("127.0.0.1", local.port)
        elif args.broker != "none":
            host, _, port = args.broker.rpartition(":")
            broker = (host or "127.0.0.1", int(port))
        try:
            tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
            for people in people_counts:
                config = config_for(args.source, tasks, runtime_table(args), broker, Path(tmp), people)
                print_report(bench(config, args.frames, local.process.pid if local else None), as_json=args.json)
            if len(people_counts) > 1:  # what a person adds: the counts in turn within one run (see bench_people)
                config = config_for(args.source, tasks, runtime_table(args), broker, Path(tmp), max(people_counts))
                print_people_cost(bench_people(config, people_counts, 2 * args.frames), as_json=args.json)
        finally:
            if local is not None:
                local.stop()
    return 0
