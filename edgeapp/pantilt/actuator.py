"""What every pan/tilt actuator is, and how a rig type plugs in.

An actuator is three calls: ``write(pan, tilt)`` (degrees; None leaves an axis
alone), ``release()`` (stop driving the servos) and ``close()``. A rig type
(servo, hat, sim) is one :class:`RigType` in its own module, listed once in
:data:`edgeapp.pantilt.rigs.RIGS`; the config table, the accepted angle range
and the opener all come from there. This module imports nothing of the rig
modules, so they, the config and the :class:`~edgeapp.pantilt.rig.Rig` all
import it one way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from edgeapp.errors import EdgeappError


class ActuatorError(EdgeappError):
    """A command the actuator cannot carry out (an angle out of its range, a closed device)."""


class Actuator(Protocol):
    name: str

    def write(self, pan: float | None, tilt: float | None) -> None: ...

    def release(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Devices:
    """Hardware handed to an actuator instead of the one it would open: gpiozero's pin factory, an I2C bus, a clock."""

    pin_factory: Any = None
    bus: Any = None
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class RigType:
    """One kind of rig: its ``[pantilt.<name>]`` table, the angles it accepts, and how to open it.

    ``open`` gets the whole ``[pantilt]`` config (an actuator may need the axes' ``enabled``) and the devices.
    """

    name: str
    config: type
    reach: Callable[[Any], tuple[float, float]]
    open: Callable[[Any, Devices], Actuator] = field(compare=False)
