"""The pan/tilt controller: new observations of the target in, commanded angles out.

It acts only when a frame brings a fresh observation of the target; a frame
without one never moves the rig towards where the target used to be (the
peer's runaway: its PID kept integrating the last error and drove the camera
into the floor). Without the target: hold still for ``hold_s``, then slew home
(and optionally scan slowly). While acting it watches for runaway: if the error
keeps growing by about as much as the rig turned, the axis is turning the
wrong way (mis-set inversion, swapped servos), and it stops where it is with a
message that says so, rather than chasing the target into a limit.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from edgeapp.detect.tracker import TrackerUpdate
from edgeapp.pantilt.config import PanTiltConfig
from edgeapp.pantilt.pid import AxisPid, clamp

log = logging.getLogger(__name__)

NOMINAL_DT_S = 0.1
LOST_RUNAWAYS = 3
NEAR_EDGE = 0.4  # a target centre this far off centre (normalised) is about to leave the view
State = Literal["idle", "tracking", "holding", "homing", "scanning", "fault"]


@dataclass(frozen=True)
class Command:
    """What the rig should do after one frame."""

    pan: float
    tilt: float
    state: State
    moved: bool
    message: str = ""
    # How this command will shift the scene in the next frame (normalised), for the tracker's matching.
    view_shift: tuple[float, float] = (0.0, 0.0)


@dataclass
class _Sample:
    error: float  # normalised
    step: float  # degrees the rig turned after this observation


class PanTiltController:
    """Pure control: call :meth:`update` once per processed frame; send the angles to a :class:`~edgeapp.pantilt.rig.Rig`."""

    def __init__(self, config: PanTiltConfig | None = None):
        self.config = config = config or PanTiltConfig()
        self.axes: dict[str, AxisPid] = {"pan": AxisPid(config.pan), "tilt": AxisPid(config.tilt)}
        self.state: State = "idle"
        self.fault: str | None = None
        self._last_t: float | None = None
        self._last_obs_t: float | None = None
        self._last_seen_t: float | None = None
        self._target_id: object = None
        self._history: dict[str, deque[_Sample]] = {
            name: deque(maxlen=config.runaway_steps + 1) for name in self.axes
        }
        self._suspect = {name: 0 for name in self.axes}  # targets lost while the error grew (runaway evidence)
        self._scan_to = config.scan_max

    @property
    def pan(self) -> float:
        return self.axes["pan"].angle

    @property
    def tilt(self) -> float:
        return self.axes["tilt"].angle

    def command(self, moved: bool = False) -> Command:
        shift = (0.0, 0.0)
        if moved:
            # Turning the view right moves the scene left in the frame; invert says the servo turns the other way.
            shift = tuple(  # type: ignore[assignment]
                (a.last_step if a.config.invert else -a.last_step) / a.config.fov_deg for a in self.axes.values())
        return Command(self.pan, self.tilt, self.state, moved, self.fault or "", shift)

    def follow(self, update: TrackerUpdate, t: float) -> Command:
        """:meth:`update` from a tracker's result: act on the target only when this frame saw it."""
        target = update.target
        center = target.center if target is not None and update.target_seen else None
        return self.update(t, center, target.id if target is not None else None)

    def clear_fault(self) -> None:
        """Resume after a runaway stop (once the wiring or the config is fixed)."""
        self.fault = None
        self.state = "idle"
        self._reset_axes()
        self._suspect = {name: 0 for name in self.axes}

    def update(self, t: float, center: tuple[float, float] | None = None, target_id: object = None) -> Command:
        """One processed frame at time ``t`` (seconds, monotonic or media time).

        ``center`` is the target's box centre normalised to the frame when the
        target was seen in this frame, else None.
        """
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        for axis in self.axes.values():
            axis.last_step = 0.0  # steps describe this frame only (view_shift, runaway watch)
        if self.fault is not None:
            return self.command()
        if center is not None:
            return self._track(t, dt, center, target_id)
        return self._without_target(t, dt)

    # -- with a target -------------------------------------------------------------
    def _track(self, t: float, frame_dt: float, center: tuple[float, float], target_id: object) -> Command:
        if target_id != self._target_id or self.state not in ("tracking", "holding"):
            self._reset_axes()  # a new target, or the old one back after homing: start clean
        self._target_id = target_id
        # The time since the last observation (the PID caps it); for the first one, the frame interval.
        dt = frame_dt if self._last_obs_t is None else t - self._last_obs_t
        if dt <= 0.0:  # the very first frame: no interval known yet, assume a typical one
            dt = NOMINAL_DT_S
        self._last_obs_t = self._last_seen_t = t
        self.state = "tracking"
        moved = False
        for (name, axis), c in zip(self.axes.items(), center):
            if not axis.config.enabled:
                continue
            error = float(c) - 0.5
            axis.update(error, dt)
            moved |= axis.last_step != 0.0
            self._watch(name, axis, error)
            if self.fault is not None:
                return self.command(moved)
        return self.command(moved)

    def _watch(self, name: str, axis: AxisPid, error: float) -> None:
        """Runaway: N corrections in a row, each followed by a larger error, by about what the rig turned."""
        history = self._history[name]
        if abs(error) < axis.config.dead_band:
            history.clear()
            self._suspect[name] = 0  # centred once: the axis turns the right way
            return
        history.append(_Sample(error, axis.last_step))
        cfg = self.config
        if len(history) <= cfg.runaway_steps or not self._growing(name):
            return
        samples = list(history)
        if abs(samples[-1].error) - abs(samples[0].error) < cfg.runaway_min_growth:
            return
        turned = sum(s.step for s in samples[:-1])
        # Undo this observation's step: it would only add to the runaway.
        axis.angle -= axis.last_step
        axis.last_step = 0.0
        self._trip(name, axis, f"the target moved from {samples[0].error:+.0%} to {samples[-1].error:+.0%} of the "
                   f"frame off centre over {cfg.runaway_steps} corrections while the rig turned {turned:+.1f} degrees")

    def _growing(self, name: str) -> bool:
        """Every correction in the history was followed by a larger error, grown by about the step or more."""
        samples = list(self._history[name])
        if len(samples) < 2:
            return False
        fov = self.axes[name].config.fov_deg
        for prev, cur in zip(samples, samples[1:]):
            if prev.step == 0.0 or math.copysign(1.0, prev.error) != math.copysign(1.0, cur.error):
                return False
            if abs(cur.error) - abs(prev.error) < self.config.runaway_ratio * abs(prev.step) / fov:
                return False
        return True

    def _lost_while_growing(self) -> None:
        """A runaway from a large initial error can lose the target before N corrections can be watched.
        A correction is meant to bring the target towards the centre, so losing it right after one (with
        every earlier correction followed by a larger error) counts as evidence; LOST_RUNAWAYS such losses
        with no centring in between (which clears the count) are no coincidence."""
        for name, axis in self.axes.items():
            history = self._history[name]
            if not (axis.config.enabled and history and history[-1].step != 0.0):
                continue
            if len(history) > 1 and not self._growing(name):
                continue
            last = history[-1]
            if abs(last.error) + abs(last.step) / axis.config.fov_deg < NEAR_EDGE:
                continue  # turning the wrong way on this axis would not have taken the target out of view
            if len(history) >= self.config.runaway_steps:
                # N corrections, each followed by a larger error, the last one so large the target left the view.
                self._trip(name, axis, f"{len(history)} corrections in a row each moved the target further off "
                           f"centre, the last one out of view (last seen {last.error:+.0%} of the frame off centre, "
                           f"the rig turned {last.step:+.1f} degrees)")
                return
            self._suspect[name] += 1
            if self._suspect[name] >= LOST_RUNAWAYS:
                self._trip(name, axis, f"{LOST_RUNAWAYS} times in a row the target left the view right after "
                           f"a correction towards it (last seen {history[-1].error:+.0%} of the frame off centre, "
                           f"the rig turned {history[-1].step:+.1f} degrees)")
                return

    def _trip(self, name: str, axis: AxisPid, what: str) -> None:
        self.fault = (
            f"{name} runaway: {what}, so the {name} axis turns the wrong way. Check pantilt.{name}.invert "
            f"(now {str(axis.config.invert).lower()}) with `edgeapp pantilt test`, and that the servos are not "
            f"swapped. Tracking stopped; the rig holds at pan {self.pan:.1f}, tilt {self.tilt:.1f} degrees."
        )
        self.state = "fault"
        log.error("%s", self.fault)

    # -- without a target ----------------------------------------------------------
    def _without_target(self, t: float, dt: float) -> Command:
        cfg = self.config
        if self.state == "tracking":
            self._lost_while_growing()
            if self.fault is not None:
                return self.command()
            # Lost: forget the integral now, so nothing stale survives to the next sighting.
            self._reset_axes()
            self.state = "holding"
        if self.state == "holding":
            if self._last_seen_t is not None and t - self._last_seen_t < cfg.hold_s:
                return self.command()
            self.state = "homing"
        moved = False
        if self.state == "homing":
            for axis in self.axes.values():
                if axis.config.enabled:
                    axis.move_towards(axis.config.home, dt, cfg.home_speed)
                    moved |= axis.last_step != 0.0
            if all(a.angle == a.config.home for a in self.axes.values() if a.config.enabled):
                self.state = "scanning" if cfg.scan else "idle"
                self._scan_to = cfg.scan_max
            return self.command(moved)
        if self.state == "idle" and cfg.scan:
            self.state = "scanning"  # nothing to follow yet: look for something
        if self.state == "scanning":
            pan = self.axes["pan"]
            pan.move_towards(self._scan_to, dt, cfg.scan_speed)
            if pan.angle == clamp(self._scan_to, pan.config.min_angle, pan.config.max_angle):
                self._scan_to = cfg.scan_min if self._scan_to == cfg.scan_max else cfg.scan_max
            return self.command(pan.last_step != 0.0)
        return self.command()

    def _reset_axes(self) -> None:
        for axis in self.axes.values():
            axis.reset()
        for h in self._history.values():
            h.clear()
        self._last_obs_t = None
