"""Pan/tilt tracking: a PID per axis, a target-loss policy, and actuators behind one bus-owning thread."""

from edgeapp.pantilt.controller import Command, PanTiltConfig, PanTiltController
from edgeapp.pantilt.pid import AxisConfig, AxisPid
from edgeapp.pantilt.rig import Actuator, ActuatorError, Rig, RigStats, open_actuator, open_rig

__all__ = [
    "Command", "PanTiltConfig", "PanTiltController", "AxisConfig", "AxisPid",
    "Actuator", "ActuatorError", "Rig", "RigStats", "open_actuator", "open_rig",
]
