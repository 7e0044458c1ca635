"""One PID per axis, on the normalised error, in incremental form.

The error is where the target is minus where the camera looks (target centre
minus frame centre), normalised to the frame: +0.25 means a quarter of the
frame to the right (pan) or below (tilt). It is relative to the current
pointing, so the controller is incremental: each new observation moves the
commanded angle by ``kp·e + ki·∫e + kd·ė`` degrees, with the error first
turned into degrees through the field of view. ``kp`` is then dimensionless:
the fraction of the seen offset corrected per observation (1 jumps straight
onto the target, 0.5 halves the offset each frame without overshoot). Because
the rig itself integrates the steps, ``ki`` adds a second integrator: it helps
follow a steadily moving target but overshoots a still one; keep it small.

What the peer (rpi-deep-pantilt) lacked, each a named piece here: the
integral is clamped (anti-windup) and frozen while the angle is at a limit;
``reset`` clears it when the target is lost; a dead-band stops hunting around
the centre; the step is slew-limited (degrees per second of observation time,
with the time between observations capped so a long gap cannot buy a big
jump); soft angle limits; per-axis inversion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgeapp.settings import Problems

# Longest time between observations the slew limit and the integral will credit:
# after a gap the next step is as small as after a normal frame, never larger.
MAX_DT_S = 0.25


@dataclass(frozen=True)
class AxisConfig:
    """``[pantilt.pan]`` / ``[pantilt.tilt]``. Angles in degrees; positive pan looks right, positive tilt looks down."""

    enabled: bool = True  # False: this axis never moves
    kp: float = 0.5  # fraction of the observed angular offset corrected per observation
    ki: float = 0.0  # per second
    kd: float = 0.0  # seconds
    integral_limit: float = 5.0  # degrees: the most the integral term may add to one step
    dead_band: float = 0.02  # fraction of the frame around the centre where the axis does not move
    slew_rate: float = 90.0  # degrees per second: the fastest the commanded angle may move while tracking
    min_angle: float = -80.0  # soft limit, within the rig's own range
    max_angle: float = 80.0  # soft limit
    home: float = 0.0  # where the axis rests
    invert: bool = False  # the servo turns the other way from this convention
    fov_deg: float = 62.2  # the camera's field of view along this axis (Pi camera v2: 62.2 x 48.8)

    def check(self, problems: Problems) -> None:
        for name in ("kp", "ki", "kd", "integral_limit", "dead_band"):
            problems.require(getattr(self, name) >= 0.0, name, f"must not be negative, got {getattr(self, name)}")
        problems.require(self.kp <= 2.0, "kp",
                         f"{self.kp} would overshoot: kp is the fraction of the offset corrected per frame; use 0 < kp <= 1")
        problems.require(self.dead_band < 0.5, "dead_band", f"must be below 0.5 (half the frame), got {self.dead_band}")
        problems.require(self.slew_rate > 0.0, "slew_rate", f"must be positive, got {self.slew_rate}")
        problems.require(0.0 < self.fov_deg < 180.0, "fov_deg", f"must be between 0 and 180, got {self.fov_deg}")
        problems.require(self.min_angle < self.max_angle, "min_angle",
                         f"must be below max_angle ({self.min_angle} >= {self.max_angle})")
        problems.require(self.min_angle <= self.home <= self.max_angle, "home",
                         f"{self.home} is outside min_angle..max_angle ({self.min_angle}..{self.max_angle})")


def clamp(value: float, lo: float, hi: float) -> float:
    return lo if value < lo else hi if value > hi else value


class AxisPid:
    """The commanded angle of one axis and the PID state that moves it. Pure: no clock, no I/O."""

    def __init__(self, config: AxisConfig, angle: float | None = None):
        self.config = config
        self.angle = config.home if angle is None else clamp(angle, config.min_angle, config.max_angle)
        self.integral = 0.0  # degree-seconds of error
        self._prev_error: float | None = None  # degrees
        self.last_step = 0.0
        self.saturated = False

    def reset(self) -> None:
        """Forget the integral and the derivative history (the target was lost or changed); keep the angle."""
        self.integral = 0.0
        self._prev_error = None
        self.last_step = 0.0

    def update(self, error: float, dt: float) -> float:
        """One observation: ``error`` normalised to the frame, ``dt`` seconds since the previous one. Returns the angle."""
        cfg = self.config
        if not math.isfinite(error):
            raise ValueError(f"error must be a finite number, got {error!r}")
        dt = clamp(dt if math.isfinite(dt) else MAX_DT_S, 1e-3, MAX_DT_S)
        if abs(error) < cfg.dead_band:
            # Close enough: hold still and let nothing accumulate, or the rig hunts around the centre.
            self._prev_error = 0.0
            self.last_step = 0.0
            return self.angle
        e = error * cfg.fov_deg
        integral = 0.0
        if cfg.ki > 0.0:
            bound = cfg.integral_limit / cfg.ki
            integral = clamp(self.integral + e * dt, -bound, bound)
        derivative = 0.0 if self._prev_error is None else (e - self._prev_error) / dt
        step = cfg.kp * e + cfg.ki * integral + cfg.kd * derivative
        if cfg.invert:
            step = -step
        limit = cfg.slew_rate * dt
        step = clamp(step, -limit, limit)
        wanted = self.angle + step
        angle = clamp(wanted, cfg.min_angle, cfg.max_angle)
        self.saturated = angle != wanted
        if not self.saturated:
            self.integral = integral
        # At a limit the integral stays where it was: growing it would only wind up
        # against the stop and delay the way back (conditional integration).
        self._prev_error = e
        self.last_step = angle - self.angle
        self.angle = angle
        return angle

    def move_towards(self, target: float, dt: float, speed: float) -> float:
        """Slew the angle towards ``target`` at ``speed`` degrees per second (homing, scanning)."""
        cfg = self.config
        target = clamp(target, cfg.min_angle, cfg.max_angle)
        limit = speed * clamp(dt if math.isfinite(dt) else MAX_DT_S, 0.0, MAX_DT_S)
        step = clamp(target - self.angle, -limit, limit)
        self.angle += step
        self.last_step = step
        return self.angle
