"""``edgeapp pantilt test``: sweep the rig to check wiring and inversion."""

from __future__ import annotations

import argparse
import json
import time

from edgeapp.cli import usage_error
from edgeapp.cli.common import emit
from edgeapp.credentials import read_toml_file
from edgeapp.errors import ConfigError
from edgeapp.pantilt.config import PanTiltConfig
from edgeapp.pantilt.pid import AxisPid
from edgeapp.pantilt.rig import open_rig
from edgeapp.pantilt.rigs import NO_RIG, RIGS
from edgeapp.settings import read


def register(cli) -> None:
    t = cli.command("pantilt", "pan/tilt rig commands")
    sub = t.add_subparsers(dest="pantilt_command", required=True, metavar="COMMAND")
    s = sub.add_parser("test", help="sweep the rig home, to its limits and back, to check wiring and inversion",
                       description="Sweep the rig home, to each limit and back to centre, saying at each step which "
                                   "way the view should turn, so an installer can check wiring and inversion.")
    s.add_argument("--config", default=None, help="a TOML file whose [pantilt] table describes the rig")
    s.add_argument("--rig", choices=tuple(RIGS), default=None, help="override pantilt.rig")
    s.add_argument("--pin-factory", default=None, help="override pantilt.servo.pin_factory (e.g. lgpio, pigpio, mock)")
    s.add_argument("--dwell", type=float, default=1.5, help="seconds to stay at each position (default 1.5)")
    s.add_argument("--speed", type=float, default=None,
                   help="degrees per second between positions (default pantilt.home_speed)")
    s.add_argument("--json", action="store_true", help="one JSON line per step instead of text")
    s.set_defaults(func=run_pantilt_test)


def load_pantilt_config(args: argparse.Namespace) -> PanTiltConfig:
    table: dict = {}
    if args.config:
        table = dict(read_toml_file(args.config, "config file").get("pantilt", {}))
    if args.rig:
        table["rig"] = args.rig
    if args.pin_factory is not None:
        table["servo"] = {**table.get("servo", {}), "pin_factory": args.pin_factory}
    config = read(PanTiltConfig, table, "pantilt")
    if config.rig == NO_RIG:
        raise ConfigError("pantilt.rig",
                          f"no rig configured: pass --rig {'|'.join(RIGS)} or a --config with [pantilt] rig")
    return config


def sweep_plan(config: PanTiltConfig) -> list[tuple[str, float, float, str]]:
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
