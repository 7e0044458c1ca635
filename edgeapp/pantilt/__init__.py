"""Pan/tilt tracking: a PID per axis, a target-loss policy, and actuators behind one bus-owning thread."""

from edgeapp.pantilt.actuator import Actuator, ActuatorError
from edgeapp.pantilt.config import PanTiltConfig
from edgeapp.pantilt.controller import Command, PanTiltController
from edgeapp.pantilt.pid import AxisConfig, AxisPid
from edgeapp.pantilt.rig import Rig, RigStats, open_actuator, open_rig

__all__ = [
    "Command", "PanTiltConfig", "PanTiltController", "AxisConfig", "AxisPid",
    "Actuator", "ActuatorError", "Rig", "RigStats", "open_actuator", "open_rig",
]
