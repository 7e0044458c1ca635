"""The per-axis PID: windup, dead-band, slew, limits, reset on loss, inversion."""

from __future__ import annotations

import pytest

from edgeapp.pantilt.pid import MAX_DT_S, AxisConfig, AxisPid

DT = 0.1


def axis(**kw) -> AxisPid:
    base = dict(kp=0.5, ki=0.0, kd=0.0, dead_band=0.0, slew_rate=1000.0, fov_deg=60.0)
    return AxisPid(AxisConfig(**{**base, **kw}))


def test_proportional_step_in_degrees_of_the_view():
    a = axis(kp=0.5)
    assert a.update(0.2, DT) == pytest.approx(6.0)  # 0.2 of a 60 degree view = 12 degrees; half of it
    assert a.update(-0.1, DT) == pytest.approx(3.0)


def test_dead_band_holds_still_and_accumulates_nothing():
    a = axis(dead_band=0.03, ki=1.0)
    for _ in range(50):
        assert a.update(0.029, DT) == 0.0
    assert a.integral == 0.0 and a.last_step == 0.0
    assert a.update(0.031, DT) != 0.0


def test_integral_is_clamped_against_windup():
    a = axis(kp=0.0, ki=2.0, integral_limit=3.0)
    steps = []
    for _ in range(100):  # a target held off-centre for 10 s (e.g. the rig is stuck)
        before = a.angle
        a.update(0.4, DT)
        steps.append(a.angle - before)
    assert max(steps) == pytest.approx(3.0)  # the integral term never adds more than its limit
    assert a.integral * 2.0 == pytest.approx(3.0)
    # ... so when the error flips, the output follows within a step instead of unwinding for seconds.
    before = a.angle
    a.update(-0.4, DT)
    assert a.angle - before < 3.0


def test_integral_freezes_at_an_angle_limit():
    a = axis(kp=0.5, ki=1.0, integral_limit=100.0, max_angle=10.0)
    for _ in range(20):
        a.update(0.5, DT)
    assert a.angle == 10.0 and a.saturated
    frozen = a.integral
    a.update(0.5, DT)
    assert a.integral == frozen  # pushing against the stop winds nothing up


def test_slew_rate_limits_the_step():
    a = axis(kp=1.0, slew_rate=20.0)
    a.update(0.5, DT)  # wants 30 degrees at once
    assert a.angle == pytest.approx(2.0)  # 20 degrees/s over 0.1 s
    a2 = axis(kp=1.0, slew_rate=20.0)
    a2.update(0.5, 60.0)  # a minute since the last observation buys no bigger step than MAX_DT_S
    assert a2.angle == pytest.approx(20.0 * MAX_DT_S)


def test_soft_angle_limits():
    a = axis(kp=1.0, min_angle=-15.0, max_angle=15.0)
    for _ in range(10):
        a.update(0.5, DT)
    assert a.angle == 15.0
    for _ in range(10):
        a.update(-0.5, DT)
    assert a.angle == -15.0
    assert AxisPid(AxisConfig(min_angle=-15.0, max_angle=15.0), angle=40.0).angle == 15.0


def test_inversion_turns_the_other_way():
    assert axis(invert=True).update(0.2, DT) == pytest.approx(-6.0)


def test_reset_on_loss_forgets_integral_and_derivative():
    a = axis(kp=0.0, ki=1.0, kd=0.5, integral_limit=50.0)
    for _ in range(5):
        a.update(0.3, DT)
    assert a.integral != 0.0
    angle = a.angle
    a.reset()
    assert a.integral == 0.0 and a.angle == angle  # the rig stays where it is
    a.update(0.3, DT)  # no derivative kick from the stale previous error
    assert a.angle - angle == pytest.approx(1.0 * 0.3 * 60.0 * DT)


def test_derivative_damps_a_closing_error():
    a = axis(kp=0.5, kd=0.05)
    a.update(0.3, DT)
    first = a.angle
    a.update(0.1, DT)  # closing fast: the derivative brakes
    assert a.angle - first < 0.5 * 0.1 * 60.0


def test_move_towards_is_slew_limited_and_stops_on_target():
    a = axis()
    a.angle = 30.0
    assert a.move_towards(0.0, DT, 50.0) == pytest.approx(25.0)
    for _ in range(20):
        a.move_towards(0.0, DT, 50.0)
    assert a.angle == 0.0


def test_bad_error_is_a_message():
    with pytest.raises(ValueError, match="finite"):
        axis().update(float("nan"), DT)
