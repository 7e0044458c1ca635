"""The Pimoroni Pan-Tilt HAT through its own library, ``pantilthat``, on an injected I2C bus.

Two things in the library are turned off because they broke the peer:
``idle_timeout`` starts a new ``threading.Timer`` on every servo write, and
those timers then write to the bus from their own threads (so the bus had
several writers, and a tight loop made thousands of threads); the
:class:`~edgeapp.pantilt.rig.Rig` releases idle servos from its one thread
instead. The library already retries each transfer (10 tries, 10 ms apart)
before raising ``IOError("Failed to write ...")``; every failed transfer is
counted here, and a write that still fails is counted and left to the rig to
retry on its next tick, never raised past it.
"""

from __future__ import annotations

import atexit
import errno
from dataclasses import dataclass

from edgeapp.pantilt.actuator import ActuatorError, RigType
from edgeapp.settings import Problems

HAT_RANGE = (-90.0, 90.0)  # the library's own angle range


@dataclass(frozen=True)
class HatConfig:
    """``[pantilt.hat]``."""

    i2c_bus: int = 1  # /dev/i2c-N
    address: int = 0x15  # the HAT's I2C address
    pan_channel: int = 1  # the HAT's servo 1 pans in Pimoroni's kit; 2 if the servos are wired the other way
    pan_pulse_min_us: int = 575  # the library's defaults
    pan_pulse_max_us: int = 2325  # the library's defaults
    tilt_pulse_min_us: int = 575  # the library's defaults
    tilt_pulse_max_us: int = 2325  # the library's defaults


    def check(self, problems: Problems) -> None:
        problems.require(self.i2c_bus >= 0, "i2c_bus", f"must not be negative, got {self.i2c_bus}")
        problems.require(0x03 <= self.address <= 0x77, "address", f"must be a 7-bit I2C address, got {self.address:#x}")
        problems.require(self.pan_channel in (1, 2), "pan_channel", f"must be 1 or 2, got {self.pan_channel}")
        for axis in ("pan", "tilt"):
            lo, hi = getattr(self, f"{axis}_pulse_min_us"), getattr(self, f"{axis}_pulse_max_us")
            problems.require(0 < lo < hi, f"{axis}_pulse_min_us", f"need 0 < min < max, got {lo}, {hi}")


class CountingBus:
    """An SMBus wrapper that counts failed transfers, including those the library retries silently."""

    def __init__(self, bus):
        self.bus = bus
        self.transfers = 0
        self.errors = 0
        self.last_error = ""

    def _call(self, method: str, *args):
        self.transfers += 1
        try:
            return getattr(self.bus, method)(*args)
        except OSError as exc:
            self.errors += 1
            self.last_error = f"{method}: {exc}"
            raise

    def write_byte_data(self, addr, reg, value):
        return self._call("write_byte_data", addr, reg, value)

    def write_word_data(self, addr, reg, value):
        return self._call("write_word_data", addr, reg, value)

    def write_i2c_block_data(self, addr, reg, data):
        return self._call("write_i2c_block_data", addr, reg, data)

    def read_byte_data(self, addr, reg):
        return self._call("read_byte_data", addr, reg)

    def read_word_data(self, addr, reg):
        return self._call("read_word_data", addr, reg)

    def close(self):
        close = getattr(self.bus, "close", None)
        if close is not None:
            close()


def open_smbus(number: int):
    """The real bus: smbus2 (pip), else the python3-smbus Debian package."""
    try:
        from smbus2 import SMBus
    except ImportError:
        try:
            from smbus import SMBus  # type: ignore[no-redef]
        except ImportError:
            raise ActuatorError("the Pan-Tilt HAT needs smbus2 (pip install smbus2) or python3-smbus") from None
    try:
        return SMBus(number)
    except OSError as exc:
        hint = " (enable I2C with raspi-config; is the user in the 'i2c' group?)" if exc.errno in (
            errno.ENOENT, errno.EACCES) else ""
        raise ActuatorError(f"cannot open /dev/i2c-{number}: {exc}{hint}") from exc


class HatActuator:
    name = "hat"

    def __init__(self, config: HatConfig | None = None, bus=None):
        from pantilthat.pantilt import PanTilt

        self.config = cfg = config or HatConfig()
        self._own_bus = bus is None
        self.bus = CountingBus(bus if bus is not None else open_smbus(cfg.i2c_bus))
        pan_ch, tilt_ch = (1, 2) if cfg.pan_channel == 1 else (2, 1)
        pulses = {pan_ch: (cfg.pan_pulse_min_us, cfg.pan_pulse_max_us),
                  tilt_ch: (cfg.tilt_pulse_min_us, cfg.tilt_pulse_max_us)}
        self.hat = PanTilt(
            enable_lights=False, idle_timeout=0, address=cfg.address, i2c_bus=self.bus,
            servo1_min=pulses[1][0], servo1_max=pulses[1][1], servo2_min=pulses[2][0], servo2_max=pulses[2][1],
        )
        self._set = {"pan": self.hat.servo_one if pan_ch == 1 else self.hat.servo_two,
                     "tilt": self.hat.servo_two if pan_ch == 1 else self.hat.servo_one}
        self._channel = {"pan": pan_ch, "tilt": tilt_ch}
        self.failed_writes = 0
        self.closed = False

    @property
    def i2c_errors(self) -> int:
        return self.bus.errors

    def write(self, pan: float | None, tilt: float | None) -> None:
        lo, hi = HAT_RANGE
        for axis, angle in (("pan", pan), ("tilt", tilt)):
            if angle is None:
                continue
            if not lo <= angle <= hi:
                raise ActuatorError(f"{axis} servo (HAT channel {self._channel[axis]}): "
                                    f"{angle:.1f} degrees is outside {lo:g}..{hi:g}")
            try:
                self._set[axis](angle)
            except OSError as exc:  # the library's IOError once its own retries are spent
                self.failed_writes += 1
                raise OSError(f"{axis} servo (HAT channel {self._channel[axis]}, I2C address "
                              f"{self.config.address:#x}): {exc}") from exc

    def release(self) -> None:
        for channel in (1, 2):
            self.hat.servo_enable(channel, False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # The library registers an exit hook that writes to the bus; the rig has already
        # released the servos, and the bus may be gone by then.
        atexit.unregister(self.hat._atexit)
        if self._own_bus:
            self.bus.close()


RIG = RigType("hat", HatConfig, lambda c: HAT_RANGE, lambda config, devices: HatActuator(config.hat, bus=devices.bus))
