"""``edgeapp infer detect``, ``edgeapp bench detect`` and ``edgeapp pantilt test``."""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path
from typing import Iterator

from edgeapp.camera import Frame, open_source
from edgeapp.cli import usage_error
from edgeapp.cli.common import add_backend_options, add_clip_bench_options, backend_request, emit, registry
from edgeapp.detect.bench import bench_detect, print_report
from edgeapp.detect.detector import DetectConfig, Detector
from edgeapp.detect.tracker import TrackerUpdate
from edgeapp.errors import ConfigError
from edgeapp.evaluation.motfile import MotBox
from edgeapp.events.detection import detection_json


def register(cli) -> None:
    p = cli.add("infer", "detect", "detect objects on an image, a folder of images or a video (one JSON line per frame)")
    p.add_argument("path", help="an image, a folder of images, or a video file")
    _detect_options(p)
    p.set_defaults(func=run_infer)

    b = cli.add("bench", "detect", "time the bare detection invoke against the whole per-frame detection path")
    add_clip_bench_options(b)
    _detect_options(b)
    b.set_defaults(func=run_bench)

    t = cli.command("pantilt", "pan/tilt rig commands")
    sub = t.add_subparsers(dest="pantilt_command", required=True, metavar="COMMAND")
    s = sub.add_parser("test", help="sweep the rig home, to its limits and back, to check wiring and inversion",
                       description="Sweep the rig home, to each limit and back to centre, saying at each step which "
                                   "way the view should turn, so an installer can check wiring and inversion.")
    s.add_argument("--config", default=None, help="a TOML file whose [pantilt] table describes the rig")
    s.add_argument("--rig", choices=("servo", "hat", "sim"), default=None, help="override pantilt.rig")
    s.add_argument("--pin-factory", default=None, help="override pantilt.servo.pin_factory (e.g. lgpio, pigpio, mock)")
    s.add_argument("--dwell", type=float, default=1.5, help="seconds to stay at each position (default 1.5)")
    s.add_argument("--speed", type=float, default=None,
                   help="degrees per second between positions (default pantilt.home_speed)")
    s.add_argument("--json", action="store_true", help="one JSON line per step instead of text")
    s.set_defaults(func=run_pantilt_test)


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
    return DetectConfig.from_dict(table, "detect")


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


# -- pantilt test -----------------------------------------------------------------------------
def load_pantilt_config(args: argparse.Namespace):
    from edgeapp.pantilt.controller import PanTiltConfig

    table: dict = {}
    if args.config:
        try:
            data = tomllib.loads(Path(args.config).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError("", f"cannot read {args.config}: {exc}") from exc
        table = dict(data.get("pantilt", {}))
    if args.rig:
        table["rig"] = args.rig
    if args.pin_factory is not None:
        table["servo"] = {**table.get("servo", {}), "pin_factory": args.pin_factory}
    config = PanTiltConfig.from_dict(table, "pantilt")
    if config.rig == "none":
        raise ConfigError("pantilt.rig", "no rig configured: pass --rig servo|hat|sim or a --config with [pantilt] rig")
    return config


def sweep_plan(config) -> list[tuple[str, float, float, str]]:
    """(step, pan, tilt, what the installer should see). Soft limits, never the servo's hard ends."""
    pan, tilt = config.pan, config.tilt
    hp, ht = pan.home, tilt.home
    plan = [("home", hp, ht, "the rig's rest position")]
    if pan.enabled:
        left, right = ("RIGHT", "LEFT") if pan.invert else ("LEFT", "RIGHT")
        plan += [
            ("pan min", pan.min_angle, ht, f"the view should turn {left}; if it turns {right}, flip pantilt.pan.invert"),
            ("pan max", pan.max_angle, ht, f"the view should turn {right}; if it turns {left}, flip pantilt.pan.invert"),
        ]
    if tilt.enabled:
        up, down = ("DOWN", "UP") if tilt.invert else ("UP", "DOWN")
        plan += [
            ("tilt min", hp, tilt.min_angle, f"the view should tilt {up}; if it tilts {down}, flip pantilt.tilt.invert"),
            ("tilt max", hp, tilt.max_angle, f"the view should tilt {down}; if it tilts {up}, flip pantilt.tilt.invert"),
        ]
    plan.append(("centre", hp, ht, "back home; if pan moved when tilt should have, the servos are swapped"))
    return plan


def run_pantilt_test(args: argparse.Namespace) -> int:
    from edgeapp.pantilt.pid import AxisPid
    from edgeapp.pantilt.rig import open_rig

    if args.dwell < 0:
        return usage_error("--dwell must not be negative")
    if args.speed is not None and args.speed <= 0:
        return usage_error("--speed must be positive")
    config = load_pantilt_config(args)
    speed = args.speed or config.home_speed
    rig = open_rig(config)
    axes = {"pan": AxisPid(config.pan), "tilt": AxisPid(config.tilt)}
    tick = 1.0 / config.rate_hz
    try:
        for step, pan, tilt, what in sweep_plan(config):
            # Move at a set speed (the tracker homes at home_speed), so a wrong limit is seen before it is hit hard.
            while True:
                p = axes["pan"].move_towards(pan, tick, speed)
                t = axes["tilt"].move_towards(tilt, tick, speed)
                rig.command(p if config.pan.enabled else None, t if config.tilt.enabled else None)
                if p == pan and t == tilt:
                    break
                time.sleep(tick)
            time.sleep(max(args.dwell, 2 * tick))
            stats = rig.stats.as_dict()
            if args.json:
                emit({"step": step, "pan": pan, "tilt": tilt, "expect": what, "position": list(rig.position),
                      "rig": config.rig, **{k: stats[k] for k in ("writes", "write_errors", "rejected")}})
            else:
                print(f"{step:9s} pan {pan:+6.1f}  tilt {tilt:+6.1f}  {what}", flush=True)
        if rig.stats.write_errors or rig.stats.rejected:
            print(f"edgeapp: warning: {rig.stats.write_errors} failed writes, {rig.stats.rejected} refused commands; "
                  f"last: {rig.stats.last_error}", flush=True)
    finally:
        rig.stop(home=(config.pan.home if config.pan.enabled else None,
                       config.tilt.home if config.tilt.enabled else None))
    if not args.json:
        print(json.dumps({"writes": rig.stats.writes, "write_errors": rig.stats.write_errors,
                          "rejected": rig.stats.rejected}))
    return 1 if rig.stats.writes == 0 else 0
