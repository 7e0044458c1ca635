"""A simulated rig, for dry runs and closed-loop tests with the real detector in the loop.

The servos turn towards the last written angle at a finite speed, so a loop
that commands too fast sees the rig lag behind as on a device. The camera on it
(a window onto a scene of real images) lives with the tests, in
``tests/support/scene.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgeapp.pantilt.actuator import ActuatorError, RigType
from edgeapp.settings import Problems


@dataclass(frozen=True)
class SimRigConfig:
    """``[pantilt.sim]``."""

    servo_speed: float = 300.0  # degrees per second (a hobby servo: about 60 degrees in 0.2 s)
    min_angle: float = -90.0  # the simulated servos' range
    max_angle: float = 90.0  # the simulated servos' range


    def check(self, problems: Problems) -> None:
        problems.require(self.servo_speed > 0, "servo_speed", f"must be positive, got {self.servo_speed}")
        problems.require(self.min_angle < self.max_angle, "min_angle", "must be below max_angle")


class SimActuator:
    """Two servos that turn towards the last written angles at ``servo_speed``; every write is recorded."""

    name = "sim"

    def __init__(self, config: SimRigConfig | None = None, clock: Callable[[], float] = time.monotonic,
                 start: tuple[float, float] = (0.0, 0.0)):
        self.config = config or SimRigConfig()
        self.clock = clock
        self.writes: list[tuple[float, float | None, float | None]] = []
        self.released = False
        self.closed = False
        self._from = np.array(start, dtype=np.float64)  # position at the last write
        self._to = self._from.copy()
        self._t = clock()

    def position(self, t: float | None = None) -> tuple[float, float]:
        """Where the servos are at time ``t`` (now by default)."""
        t = self.clock() if t is None else t
        travel = self.config.servo_speed * max(0.0, t - self._t)
        delta = self._to - self._from
        pos = self._from + np.clip(delta, -travel, travel)
        return float(pos[0]), float(pos[1])

    def write(self, pan: float | None, tilt: float | None) -> None:
        if self.closed:
            raise ActuatorError("sim rig: write after close")
        cfg = self.config
        for axis, angle in (("pan", pan), ("tilt", tilt)):
            if angle is not None and not cfg.min_angle <= angle <= cfg.max_angle:
                raise ActuatorError(f"{axis} servo: {angle:.1f} degrees is outside {cfg.min_angle:g}..{cfg.max_angle:g}")
        now = self.clock()
        self._from = np.array(self.position(now))
        self._t = now
        if pan is not None:
            self._to[0] = pan
        if tilt is not None:
            self._to[1] = tilt
        self.writes.append((now, pan, tilt))
        self.released = False

    def release(self) -> None:
        self.released = True

    def close(self) -> None:
        self.closed = True


RIG = RigType("sim", SimRigConfig, lambda c: (c.min_angle, c.max_angle),
              lambda config, devices: SimActuator(config.sim, clock=devices.clock))
