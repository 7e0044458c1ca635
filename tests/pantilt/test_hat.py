"""The Pimoroni Pan-Tilt HAT through pantilthat, on an injected fake I2C bus."""

from __future__ import annotations

import threading
import time

import pytest

from edgeapp.settings import read
from edgeapp.pantilt import PanTiltConfig, Rig, open_actuator
from edgeapp.pantilt.hat import HatActuator, HatConfig
from edgeapp.pantilt.actuator import ActuatorError

REG_CONFIG, REG_SERVO1, REG_SERVO2 = 0x00, 0x01, 0x03


class FakeSMBus:
    """Registers in a dict; ``fail_next`` transfers raise OSError 121 (EREMOTEIO), as a noisy bus does."""

    def __init__(self):
        self.regs: dict[int, int] = {}
        self.log: list[tuple[str, int, int, int]] = []
        self.fail_next = 0
        self.failures = 0

    def _maybe_fail(self):
        if self.fail_next > 0:
            self.fail_next -= 1
            self.failures += 1
            raise OSError(121, "Remote I/O error")

    def write_byte_data(self, addr, reg, value):
        self._maybe_fail()
        self.log.append(("byte", addr, reg, value))
        self.regs[reg] = value

    def write_word_data(self, addr, reg, value):
        self._maybe_fail()
        self.log.append(("word", addr, reg, value))
        self.regs[reg] = value

    def write_i2c_block_data(self, addr, reg, data):
        self._maybe_fail()
        self.log.append(("block", addr, reg, len(data)))

    def read_word_data(self, addr, reg):
        self._maybe_fail()
        return self.regs.get(reg, 0)

    def read_byte_data(self, addr, reg):
        self._maybe_fail()
        return self.regs.get(reg, 0)


def us(angle, lo=575, hi=2325):
    return lo + int((hi - lo) / 180.0 * (angle + 90))  # pantilthat's own mapping (truncating: 0 -> 1449)


def test_angles_become_pulse_words_on_the_right_channels():
    bus = FakeSMBus()
    hat = HatActuator(HatConfig(), bus=bus)
    hat.write(0.0, 30.0)
    assert bus.regs[REG_SERVO1] == us(0.0) == 1449 and bus.regs[REG_SERVO2] == us(30.0)
    assert bus.regs[REG_CONFIG] & 0b11 == 0b11  # both servos enabled, lights off
    assert all(addr == 0x15 for _, addr, _, _ in bus.log)
    hat.write(-90.0, None)
    assert bus.regs[REG_SERVO1] == 575 and bus.regs[REG_SERVO2] == us(30.0)
    hat.release()
    assert bus.regs[REG_CONFIG] & 0b11 == 0
    hat.close()


def test_swapped_channels_and_pulse_ranges():
    bus = FakeSMBus()
    hat = HatActuator(HatConfig(pan_channel=2, pan_pulse_min_us=600, pan_pulse_max_us=2400), bus=bus)
    hat.write(90.0, -90.0)
    assert bus.regs[REG_SERVO2] == 2400 and bus.regs[REG_SERVO1] == 575
    hat.close()


def test_no_timer_threads_per_write():
    """The library's idle_timeout starts a Timer per write, each writing the bus from its own thread."""
    hat = HatActuator(HatConfig(), bus=FakeSMBus())
    before = threading.active_count()
    for k in range(100):
        hat.write(float(k % 90), 0.0)
    assert threading.active_count() == before
    hat.close()


def test_transient_errors_are_retried_by_the_library_and_counted():
    bus = FakeSMBus()
    hat = HatActuator(HatConfig(), bus=bus)
    hat.write(0.0, 0.0)
    bus.fail_next = 3
    hat.write(20.0, None)
    assert bus.regs[REG_SERVO1] == us(20.0)  # got through on the 4th try
    assert hat.i2c_errors == 3 and hat.failed_writes == 0
    hat.close()


def test_a_write_that_still_fails_is_counted_and_retried_by_the_rig_never_fatal():
    bus = FakeSMBus()
    hat = HatActuator(HatConfig(), bus=bus)
    rig = Rig(hat, rate_hz=1000.0)
    rig.command(0.0, 0.0)
    rig.flush()
    bus.fail_next = 12  # more than the library's 10 tries
    rig.command(25.0, 0.0)
    rig.flush()
    assert rig.stats.write_errors == 1 and hat.failed_writes == 1
    assert "pan servo (HAT channel 1, I2C address 0x15)" in rig.stats.last_error
    assert rig.position == (0.0, 0.0)  # not written yet: the setpoint is kept
    rig.flush()  # next tick: the bus is quiet again
    assert bus.regs[REG_SERVO1] == us(25.0) and rig.position == (25.0, 0.0)
    assert hat.i2c_errors == 12 and bus.failures == 12
    rig.stop()


def test_errors_in_the_owner_thread_do_not_end_it():
    bus = FakeSMBus()
    rig = Rig(HatActuator(HatConfig(), bus=bus), rate_hz=200.0).start()
    try:
        bus.fail_next = 25
        rig.command(10.0, 10.0)
        deadline = time.monotonic() + 5.0
        while rig.position != (10.0, 10.0) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rig.position == (10.0, 10.0) and rig.stats.write_errors >= 1
        assert rig._thread is not None and rig._thread.is_alive()
    finally:
        rig.stop()


def test_out_of_range_is_refused_with_a_message():
    hat = HatActuator(HatConfig(), bus=FakeSMBus())
    with pytest.raises(ActuatorError, match=r"tilt servo \(HAT channel 2\): 95.0 degrees is outside -90..90"):
        hat.write(0.0, 95.0)
    hat.close()


def test_idle_release_from_the_owner_thread():
    bus = FakeSMBus()
    t = [0.0]
    rig = Rig(HatActuator(HatConfig(), bus=bus), rate_hz=50.0, idle_release_s=2.0, clock=lambda: t[0])
    rig.command(5.0, 5.0)
    rig.step()
    assert bus.regs[REG_CONFIG] & 0b11 == 0b11
    t[0] = 1.9
    rig.step()
    assert rig.stats.releases == 0
    t[0] = 2.1
    rig.step()
    assert rig.stats.releases == 1 and bus.regs[REG_CONFIG] & 0b11 == 0


def test_from_config():
    act = open_actuator(read(PanTiltConfig, {"rig": "hat", "hat": {"address": 0x16}}, "pantilt"), bus=FakeSMBus())
    act.write(0.0, 0.0)
    assert all(addr == 0x16 for _, addr, _, _ in act.bus.bus.log)
    act.close()


def test_repeating_the_setpoint_writes_nothing_and_lets_the_rig_release():
    """The service commands the rig every frame; a still target must not keep the servos powered."""
    bus = FakeSMBus()
    t = [0.0]
    rig = Rig(HatActuator(HatConfig(), bus=bus), rate_hz=50.0, idle_release_s=2.0, clock=lambda: t[0])
    rig.command(5.0, 5.0)
    assert rig.step()
    for i in range(1, 30):  # 30 frames a second for a second: the same angles
        t[0] = i / 30
        rig.command(5.0, 5.0)
        assert not rig.step()
    assert rig.stats.writes == 1
    t[0] = 2.1
    rig.command(5.0, None)  # pan where it is, tilt untouched
    rig.step()
    assert rig.stats.releases == 1 and bus.regs[REG_CONFIG] & 0b11 == 0
    rig.command(5.0, 5.0)  # released: the same angles must be driven again
    assert rig.step() and rig.stats.writes == 2


def test_the_rig_in_a_with_block_releases_and_closes_once():
    bus = FakeSMBus()
    hat = HatActuator(HatConfig(), bus=bus)
    with Rig(hat, rate_hz=200.0) as rig:
        assert rig.command(20.0, -10.0)
        deadline = time.monotonic() + 5
        while rig.position != (20.0, -10.0) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert rig.position == (20.0, -10.0) and hat.closed
    assert bus.regs[REG_CONFIG] & 0b11 == 0  # released: both servo outputs off
    transfers = len(bus.log)
    rig.close()
    rig.stop(home=(0.0, 0.0))
    hat.close()
    assert len(bus.log) == transfers and rig.position == (20.0, -10.0)
