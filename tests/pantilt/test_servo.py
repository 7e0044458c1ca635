"""gpiozero AngularServo actuators, checked with gpiozero's own MockFactory and PWM mock pins."""

from __future__ import annotations

import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edgeapp.settings import read
from edgeapp.pantilt import PanTiltConfig, Rig, open_actuator, open_rig
from edgeapp.pantilt.actuator import ActuatorError
from edgeapp.pantilt.servo import ServoActuator, ServoConfig, make_pin_factory


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.close()


def pulse_us(factory, pin: int) -> float:
    p = factory.pin(pin)
    return p.state * 1e6 / p.frequency  # duty cycle x frame length


def test_pulse_widths_at_both_ends_and_the_centre(factory):
    act = ServoActuator(ServoConfig(pan_pin=17, tilt_pin=18), pin_factory=factory)
    assert factory.pin(17).frequency is None  # initial_angle=None: no pulse, no start-up jump
    for angle, expected in ((-90.0, 500.0), (0.0, 1500.0), (90.0, 2500.0), (45.0, 2000.0)):
        act.write(angle, -angle)
        assert pulse_us(factory, 17) == pytest.approx(expected)
        assert pulse_us(factory, 18) == pytest.approx(3000.0 - expected)
        assert act.pulse_width_us("pan") == pytest.approx(expected)
    assert factory.pin(17).frequency == pytest.approx(50.0)
    act.write(None, 10.0)  # None leaves pan alone
    assert pulse_us(factory, 17) == pytest.approx(2000.0)
    act.close()


def test_custom_pulse_range(factory):
    cfg = ServoConfig(min_pulse_us=1000.0, max_pulse_us=2000.0, min_angle=-45.0, max_angle=45.0)
    act = ServoActuator(cfg, pin_factory=factory)
    act.write(-45.0, 45.0)
    assert pulse_us(factory, 17) == pytest.approx(1000.0) and pulse_us(factory, 18) == pytest.approx(2000.0)
    act.close()


def test_out_of_range_is_a_message_not_a_crash(factory):
    act = ServoActuator(ServoConfig(), pin_factory=factory)
    with pytest.raises(ActuatorError, match=r"pan servo: 120.0 degrees is outside its range -90..90"):
        act.write(120.0, 0.0)
    rig = Rig(act)
    assert rig.command(float("nan"), 0.0) is False
    assert rig.stats.rejected == 1 and "not a finite number" in rig.stats.last_error
    rig.command(120.0, 0.0)
    rig.flush()
    assert rig.stats.rejected == 2 and "outside its range" in rig.stats.last_error
    rig.command(30.0, 0.0)  # the rig carries on
    rig.flush()
    assert pulse_us(factory, 17) == pytest.approx(1833.33, abs=0.1)
    rig.stop()


def test_release_detaches_and_the_next_write_reattaches(factory):
    act = ServoActuator(ServoConfig(), pin_factory=factory)
    act.write(10.0, 10.0)
    act.release()
    assert act.pulse_width_us("pan") is None and factory.pin(17).state == 0
    act.write(10.0, 10.0)
    assert act.pulse_width_us("pan") == pytest.approx(1611.1, abs=0.1)
    act.close()


def test_pan_only_rig_has_no_tilt_servo(factory):
    cfg = read(PanTiltConfig, {"rig": "servo", "tilt": {"enabled": False}}, "pantilt")
    act = open_actuator(cfg, pin_factory=factory)
    assert set(act.servos) == {"pan"}
    act.write(0.0, 30.0)  # tilt ignored
    assert factory.pin(18).frequency is None
    act.close()


def test_through_the_owner_thread_with_rate_limit(factory):
    cfg = read(PanTiltConfig, {"rig": "servo", "rate_hz": 20.0}, "pantilt")
    rig = open_rig(cfg, pin_factory=factory)
    try:
        for k in range(50):  # a burst far faster than 20 Hz: only the latest survives each tick
            rig.command(float(k), 0.0)
        deadline = time.monotonic() + 2.0
        while rig.position != (49.0, 0.0) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rig.position == (49.0, 0.0)
        assert rig.stats.writes <= 3
        assert pulse_us(factory, 17) == pytest.approx(1500.0 + 49.0 * 1000.0 / 90.0)
    finally:
        rig.stop(home=(0.0, 0.0))
    assert rig.position == (0.0, 0.0)
    assert factory.pin(17).frequency is None  # released, then closed


def test_pin_factory_by_name():
    f = make_pin_factory("mock")
    assert isinstance(f, MockFactory)
    f.close()
    assert make_pin_factory("") is None
    with pytest.raises(ActuatorError, match="pin_factory 'pigpio' cannot start here"):
        make_pin_factory("pigpio")  # no pigpio daemon off a Pi: a message, not a traceback


def test_closing_twice_closes_the_own_pin_factory_once():
    act = ServoActuator(ServoConfig(pin_factory="mock"))
    factory = act.pin_factory
    act.write(10.0, 10.0)
    closes = []
    real_close = factory.close
    factory.close = lambda: (closes.append(1), real_close())
    act.close()
    act.close()
    assert closes == [1] and act.servos == {}


def test_open_rig_in_a_with_block_on_mock_pins(factory):
    cfg = read(PanTiltConfig, {"rig": "servo"}, "pantilt")
    with open_rig(cfg, pin_factory=factory) as rig:
        rig.command(30.0, -20.0)
        deadline = time.monotonic() + 5
        while rig.position != (30.0, -20.0) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert rig.position == (30.0, -20.0) and rig.actuator.servos == {}
    rig.close()  # nothing left to do, and no error
