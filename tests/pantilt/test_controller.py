"""The controller on a synthetic plant: target-loss policy, no drift, scan, runaway (no detector needed)."""

from __future__ import annotations

import pytest

from edgeapp.errors import ConfigError
from edgeapp.settings import read
from edgeapp.pantilt import PanTiltConfig, PanTiltController

DT = 0.1


class Plant:
    """A static target at a bearing; the view follows the commanded angles exactly (sign per real servo)."""

    def __init__(self, bearing=(15.0, 5.0), fov=(62.2, 48.8), servo_sign=(1.0, 1.0)):
        self.bearing, self.fov, self.sign = bearing, fov, servo_sign

    def center(self, ctl: PanTiltController):
        return tuple(0.5 + (b - s * a) / f for b, s, a, f in zip(self.bearing, self.sign, (ctl.pan, ctl.tilt), self.fov))


def config(**kw) -> PanTiltConfig:
    return read(PanTiltConfig, {"hold_s": 1.0, "home_speed": 30.0, **kw}, "pantilt")


def run(ctl, plant, frames, t0=0.0, visible=True):
    out = []
    for k in range(frames):
        t = t0 + k * DT
        c = plant.center(ctl) if visible else None
        if c is not None and not (0.0 <= c[0] <= 1.0 and 0.0 <= c[1] <= 1.0):
            c = None  # out of view
        out.append(ctl.update(t, c, target_id=1))
    return out


def test_centres_a_static_target_without_overshoot():
    ctl = PanTiltController(config())
    plant = Plant(bearing=(15.0, 5.0))
    run(ctl, plant, 30)
    assert ctl.pan == pytest.approx(15.0, abs=0.02 * 62.2) and ctl.tilt == pytest.approx(5.0, abs=0.02 * 48.8)
    assert ctl.state == "tracking"


def test_lost_target_holds_then_homes_and_never_drifts():
    ctl = PanTiltController(config(hold_s=1.0))
    plant = Plant(bearing=(30.0, 10.0))
    run(ctl, plant, 20)
    held = (ctl.pan, ctl.tilt)
    cmds = run(ctl, plant, 9, t0=2.0, visible=False)  # 0.8 s unseen
    assert all(c.state == "holding" and (c.pan, c.tilt) == held and not c.moved for c in cmds)
    cmds = run(ctl, plant, 30, t0=3.0, visible=False)
    assert cmds[0].state == "homing"
    pans = [c.pan for c in cmds]
    assert all(b <= a for a, b in zip(pans, pans[1:]))  # monotonically home, never past it
    assert (ctl.pan, ctl.tilt) == (0.0, 0.0) and ctl.state == "idle"
    cfg = ctl.config
    assert all(cfg.pan.min_angle < c.pan < cfg.pan.max_angle for c in cmds)


def test_optional_scan_sweeps_inside_its_range():
    ctl = PanTiltController(config(scan=True, scan_min=-20.0, scan_max=20.0, scan_speed=40.0, hold_s=0.0))
    pans = [ctl.update(k * DT).pan for k in range(1, 60)]
    assert ctl.state == "scanning"
    assert min(pans) == pytest.approx(-20.0) and max(pans) == pytest.approx(20.0)


def test_target_back_after_homing_is_tracked_from_a_clean_state():
    ctl = PanTiltController(config(hold_s=0.2))
    plant = Plant(bearing=(20.0, 0.0))
    run(ctl, plant, 20)
    run(ctl, plant, 30, t0=2.0, visible=False)
    assert ctl.state == "idle"
    run(ctl, plant, 20, t0=5.0)
    assert ctl.pan == pytest.approx(20.0, abs=2.0) and ctl.fault is None


def test_inverted_axis_is_stopped_as_runaway_with_a_clear_message():
    ctl = PanTiltController(config())
    plant = Plant(bearing=(6.0, 0.0), servo_sign=(-1.0, 1.0))  # the pan servo really turns the other way
    cmds = run(ctl, plant, 20)
    assert ctl.state == "fault"
    assert "pan runaway" in ctl.fault and "pantilt.pan.invert" in ctl.fault and "edgeapp pantilt test" in ctl.fault
    faulted = next(i for i, c in enumerate(cmds) if c.state == "fault")
    assert all(c.pan == cmds[faulted].pan for c in cmds[faulted:])  # stopped: holds, no more steps
    assert 0.0 < ctl.pan < 40.0  # commanded right, seen going left; well clear of the 80 limit
    ctl.clear_fault()
    assert ctl.state == "idle" and ctl.fault is None


def test_a_target_walking_away_is_not_mistaken_for_runaway():
    ctl = PanTiltController(config())
    plant = Plant(bearing=(0.0, 0.0))
    for k in range(60):  # walks right at 15 degrees/s, well within the 90 degrees/s slew
        plant.bearing = (1.5 * k, 0.0)
        ctl.update(k * DT, plant.center(ctl), target_id=1)
    assert ctl.fault is None and ctl.pan == pytest.approx(1.5 * 59, abs=10.0)


def test_view_shift_says_where_the_scene_moves():
    ctl = PanTiltController(config())
    cmd = ctl.update(0.0, (0.8, 0.5), target_id=1)
    assert cmd.moved and cmd.view_shift[0] < 0 and cmd.view_shift[1] == 0.0  # turned right: scene moves left
    assert cmd.view_shift[0] == pytest.approx(-ctl.pan / 62.2)
    assert ctl.update(0.1).view_shift == (0.0, 0.0)


def test_disabled_tilt_never_moves():
    ctl = PanTiltController(config(tilt={"enabled": False}))
    run(ctl, Plant(bearing=(10.0, 10.0)), 10)
    assert ctl.tilt == 0.0 and ctl.pan != 0.0


def test_config_tables_name_their_keys():
    cfg = read(PanTiltConfig, {"rig": "sim", "tilt": {"kp": 0.3}}, "pantilt")
    assert cfg.tilt.kp == 0.3 and cfg.tilt.fov_deg == 48.8 and cfg.tilt.max_angle == 45.0  # tilt's own defaults
    cases = [
        ({"pan": {"kp": -1.0}}, "pantilt.pan.kp: must not be negative"),
        ({"pan": {"kp": 3.0}}, "pantilt.pan.kp: 3.0 would overshoot"),
        ({"tilt": {"ki": "a lot"}}, "pantilt.tilt.ki: must be a number"),
        ({"pan": {"home": 90.0}}, "pantilt.pan.home: 90.0 is outside"),
        ({"pan": {"invrt": True}}, "pantilt.pan.invrt: unknown key; did you mean 'invert'"),
        ({"rig": "lego"}, "pantilt.rig: must be one of none, sim, servo, hat"),
        ({"servo": {"pan_pin": 40}}, "pantilt.servo.pan_pin: must be a BCM GPIO number"),
        ({"hat": {"pan_channel": 3}}, "pantilt.hat.pan_channel: must be 1 or 2"),
        ({"scan": True, "scan_max": 120.0}, "pantilt.scan_min: the scan range"),
        ({"tilt": 5}, "pantilt.tilt: must be a table"),
        ({"rig": "servo", "servo": {"min_angle": -60.0, "max_angle": 60.0}},
         "pantilt.pan.min_angle: pan's -80.0..80.0 must lie within the servo rig's -60.0..60.0"),
        ({"rig": "hat", "tilt": {"min_angle": -100.0}},
         "pantilt.tilt.min_angle: tilt's -100.0..45.0 must lie within the hat rig's -90.0..90.0"),
    ]
    for table, message in cases:
        with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
            read(PanTiltConfig, table, "pantilt")
