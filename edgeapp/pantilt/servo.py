"""Hobby servos on PWM pins through gpiozero's ``AngularServo``.

gpiozero's layering does the work: ``AngularServo`` maps an angle to a pulse
width, the pin factory (lgpio on a Pi 5 / Bookworm, pigpio for hardware-timed
pulses on older Pis, or ``MockFactory(pin_class=MockPWMPin)`` in tests) turns
that into a PWM signal. The factory is configurable by name, and a factory
object can be injected.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeapp.pantilt.actuator import ActuatorError, Devices, RigType
from edgeapp.settings import Problems

PIN_FACTORIES = ("", "lgpio", "pigpio", "rpigpio", "native", "mock")


@dataclass(frozen=True)
class ServoConfig:
    """``[pantilt.servo]``: two servos on GPIO pins (BCM numbers)."""

    pin_factory: str = ""  # "" = gpiozero's default (lgpio, then rpigpio, pigpio, native); "mock" for a dry run
    pan_pin: int = 17  # BCM GPIO number
    tilt_pin: int = 18  # BCM GPIO number
    min_angle: float = -90.0  # the servo's own range, which min/max_pulse_us map onto
    max_angle: float = 90.0  # (see min_angle)
    min_pulse_us: float = 500.0  # the pulse at min_angle
    max_pulse_us: float = 2500.0  # the pulse at max_angle
    frame_us: float = 20000.0  # 50 Hz, what analogue hobby servos expect


    def check(self, problems: Problems) -> None:
        problems.require(self.pin_factory in PIN_FACTORIES, "pin_factory",
                         f"must be one of {', '.join(repr(p) for p in PIN_FACTORIES)}, got {self.pin_factory!r}")
        for name in ("pan_pin", "tilt_pin"):
            problems.require(0 <= getattr(self, name) <= 27, name,
                             f"must be a BCM GPIO number 0..27, got {getattr(self, name)}")
        problems.require(self.pan_pin != self.tilt_pin, "tilt_pin", f"must differ from pan_pin ({self.pan_pin})")
        problems.require(self.min_angle < self.max_angle, "min_angle", "must be below max_angle")
        problems.require(0 < self.min_pulse_us < self.max_pulse_us < self.frame_us, "min_pulse_us",
                         f"need 0 < min_pulse_us < max_pulse_us < frame_us, got {self.min_pulse_us}, "
                         f"{self.max_pulse_us}, {self.frame_us}")


def make_pin_factory(name: str):
    """A gpiozero pin factory by name; None means gpiozero's own default choice."""
    if not name:
        return None
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    if name == "mock":
        return MockFactory(pin_class=MockPWMPin)  # plain MockFactory pins cannot do PWM
    from importlib.metadata import entry_points

    for ep in entry_points(group="gpiozero_pin_factories"):
        if ep.name == name:
            try:
                return ep.load()()
            except Exception as exc:  # noqa: BLE001 - each factory fails its own way off a Pi
                raise ActuatorError(f"pantilt.servo.pin_factory {name!r} cannot start here: {exc}") from exc
    raise ActuatorError(f"pantilt.servo.pin_factory {name!r} is not installed")


class ServoActuator:
    name = "servo"

    def __init__(self, config: ServoConfig | None = None, pan: bool = True, tilt: bool = True, pin_factory=None):
        from gpiozero import AngularServo
        from gpiozero.exc import GPIOZeroError

        self.config = cfg = config or ServoConfig()
        self._own_factory = pin_factory is None and bool(cfg.pin_factory)
        self.pin_factory = pin_factory if pin_factory is not None else make_pin_factory(cfg.pin_factory)
        self.servos = {}
        try:
            for axis, on, pin in (("pan", pan, cfg.pan_pin), ("tilt", tilt, cfg.tilt_pin)):
                if on:
                    # initial_angle=None: no pulse until the first write, so the rig does not jump at start-up.
                    self.servos[axis] = AngularServo(
                        pin, initial_angle=None, min_angle=cfg.min_angle, max_angle=cfg.max_angle,
                        min_pulse_width=cfg.min_pulse_us / 1e6, max_pulse_width=cfg.max_pulse_us / 1e6,
                        frame_width=cfg.frame_us / 1e6, pin_factory=self.pin_factory)
        except GPIOZeroError as exc:
            self.close()
            raise ActuatorError(f"cannot drive servos on GPIO {cfg.pan_pin}/{cfg.tilt_pin}: {exc}") from exc

    def write(self, pan: float | None, tilt: float | None) -> None:
        cfg = self.config
        for axis, angle in (("pan", pan), ("tilt", tilt)):
            if angle is None or axis not in self.servos:
                continue
            if not cfg.min_angle <= angle <= cfg.max_angle:
                raise ActuatorError(
                    f"{axis} servo: {angle:.1f} degrees is outside its range {cfg.min_angle:g}..{cfg.max_angle:g}")
            self.servos[axis].angle = angle

    def pulse_width_us(self, axis: str) -> float | None:
        """The pulse width now being sent to ``axis``, in microseconds (None when detached)."""
        width = self.servos[axis].pulse_width
        return None if width is None else width * 1e6

    def release(self) -> None:
        for servo in self.servos.values():
            servo.detach()  # no pulses: the servo stops holding (and buzzing)

    def close(self) -> None:
        for servo in self.servos.values():
            servo.close()
        self.servos = {}
        if self._own_factory and self.pin_factory is not None:
            self._own_factory = False  # closed once; a second close() has nothing left to do
            self.pin_factory.close()


def _open(config, devices: Devices) -> ServoActuator:
    return ServoActuator(config.servo, pan=config.pan.enabled, tilt=config.tilt.enabled,
                         pin_factory=devices.pin_factory)


RIG = RigType("servo", ServoConfig, lambda c: (c.min_angle, c.max_angle), _open)
