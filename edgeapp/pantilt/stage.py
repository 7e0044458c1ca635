"""The pan/tilt stage of the pipeline: the controller and the rig, and events when what the rig does changes."""

from __future__ import annotations

from typing import Callable

from edgeapp.detect.tracker import TrackerUpdate
from edgeapp.events import ErrorEvent, TrackingEvent
from edgeapp.events.base import Event
from edgeapp.pantilt.config import PanTiltConfig
from edgeapp.pantilt.controller import Command, PanTiltController
from edgeapp.pantilt.rig import open_rig


class PanTiltStage:
    """The controller and the rig: turn toward the target, and say so when that changes."""

    ANGLES_EVERY_S = 1.0  # while moving, where the head points, at most this often

    def __init__(self, config: PanTiltConfig, emit: Callable[[Event], None]):
        self.config = config
        self.controller = PanTiltController(self.config)
        self.rig = open_rig(self.config)
        self.view_shift = (0.0, 0.0)
        self._emit = emit
        self._state = "idle"
        self._last_angles = float("-inf")
        self._target: str | None = None
        self._enabled = True

    def follow(self, update: TrackerUpdate, t: float, enabled: bool) -> Command | None:
        if not enabled:
            if self._enabled:  # switched off: stop following and go home
                self._enabled = False
                self.view_shift = (0.0, 0.0)
                self.rig.command(self.config.pan.home, self.config.tilt.home)
                self._emit(TrackingEvent(type="returned_home", pan=self.config.pan.home, tilt=self.config.tilt.home))
            return None
        if not self._enabled:
            self._enabled = True
            self.controller.clear_fault()
        cmd = self.controller.follow(update, t)
        self.view_shift = cmd.view_shift
        self.rig.command(cmd.pan if self.config.pan.enabled else None, cmd.tilt if self.config.tilt.enabled else None)
        if update.target is not None:
            self._target = f"{update.target.label}#{update.target.id}"
        self._report(cmd, t)
        return cmd

    def _report(self, cmd: Command, t: float) -> None:
        before, self._state = self._state, cmd.state
        kind = None
        if cmd.state == "tracking" and before != "tracking":
            kind = "acquired"
        elif cmd.state == "holding" and before == "tracking":
            kind = "lost"
        elif cmd.state == "idle" and before == "homing":
            kind = "returned_home"
        if kind:
            self._emit(TrackingEvent(type=kind, pan=cmd.pan, tilt=cmd.tilt, target=self._target))
        elif cmd.moved and t - self._last_angles >= self.ANGLES_EVERY_S:
            self._last_angles = t
            self._emit(TrackingEvent(type="angles", pan=cmd.pan, tilt=cmd.tilt, target=self._target))
        if cmd.state == "fault" and before != "fault":
            self._emit(ErrorEvent(source="pantilt", message=cmd.message))

    def close(self) -> None:
        self.rig.stop(home=(self.config.pan.home, self.config.tilt.home))
