"""The ``[pantilt]`` table: the control loop's settings, and a sub-table per registered rig type."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from edgeapp.pantilt.pid import AxisConfig
from edgeapp.pantilt.rigs import NO_RIG, RIGS
from edgeapp.settings import Problems


RigName = Literal[(NO_RIG, *RIGS)]  # type: ignore[valid-type]  # the registered rig types, or none


def _tilt_default() -> AxisConfig:
    return AxisConfig(fov_deg=48.8, min_angle=-45.0, max_angle=45.0)


@dataclass(frozen=True)
class PanTiltControl:
    """``[pantilt]`` without the rig sub-tables (those come from the registry, below)."""

    rig: RigName = NO_RIG  # one of edgeapp.pantilt.rigs.RIGS (sim, servo, hat), or "none"
    pan: AxisConfig = field(default_factory=AxisConfig)
    tilt: AxisConfig = field(default_factory=_tilt_default)  # a narrower view and range than pan's
    hold_s: float = 2.0  # after the target is lost, hold still this long before going home
    home_speed: float = 30.0  # degrees per second on the way home
    scan: bool = False  # once home with no target, sweep pan slowly between scan_min and scan_max
    scan_min: float = -45.0  # degrees of pan
    scan_max: float = 45.0  # degrees of pan
    scan_speed: float = 10.0  # degrees per second while scanning
    runaway_steps: int = 3  # consecutive corrections with a growing error that mean runaway
    runaway_ratio: float = 0.5  # ... each growing by at least this fraction of what the rig turned
    runaway_min_growth: float = 0.05  # ... and by this fraction of the frame in all
    rate_hz: float = 50.0  # the most writes per second the rig's bus thread makes
    idle_release_s: float = 0.0  # stop driving the servos after this long without a move (0: never)

    def check(self, problems: Problems) -> None:
        problems.require(self.hold_s >= 0.0, "hold_s", f"must not be negative, got {self.hold_s}")
        for name in ("home_speed", "scan_speed", "rate_hz"):
            problems.require(getattr(self, name) > 0.0, name, f"must be positive, got {getattr(self, name)}")
        problems.require(self.runaway_steps >= 2, "runaway_steps", f"must be at least 2, got {self.runaway_steps}")
        problems.require(self.runaway_ratio > 0.0, "runaway_ratio", f"must be positive, got {self.runaway_ratio}")
        problems.require(self.scan_min < self.scan_max, "scan_min", "must be below scan_max")
        problems.require(not self.scan or (self.pan.min_angle <= self.scan_min and self.scan_max <= self.pan.max_angle),
                         "scan_min",
                         f"the scan range {self.scan_min}..{self.scan_max} must lie within pan's "
                         f"{self.pan.min_angle}..{self.pan.max_angle}")
        problems.require(self.idle_release_s >= 0.0, "idle_release_s", "must not be negative")
        reach = self.actuator_range()
        if reach is not None:
            lo, hi = reach
            for name in ("pan", "tilt"):
                axis = getattr(self, name)
                # An angle the actuator refuses would be dropped with an ERROR on every tracking frame.
                problems.require(not axis.enabled or (lo <= axis.min_angle and axis.max_angle <= hi),
                                 f"{name}.min_angle",
                                 f"{name}'s {axis.min_angle}..{axis.max_angle} must lie within the {self.rig} rig's "
                                 f"{lo}..{hi}")

    def actuator_range(self) -> tuple[float, float] | None:
        """The angles the chosen actuator accepts (None: no rig)."""
        rig = RIGS.get(self.rig)
        return None if rig is None else rig.reach(getattr(self, rig.name))


# ``[pantilt]`` = the control settings + ``[pantilt.<rig>]`` for every registered rig type.
PanTiltConfig = dataclasses.make_dataclass(
    "PanTiltConfig", [(name, rig.config, field(default_factory=rig.config)) for name, rig in RIGS.items()],
    bases=(PanTiltControl,), frozen=True, namespace={"__doc__": "The ``[pantilt]`` table.", "__module__": __name__})
