"""The one thread that owns the bus.

An actuator (:mod:`edgeapp.pantilt.actuator`) is three calls: ``write(pan,
tilt)``, ``release()`` and ``close()``. Only the :class:`Rig`'s thread ever
calls them, so an I2C bus or a PWM chip never sees two writers; the frame
loop only leaves the latest setpoint with :meth:`Rig.command`, which never
blocks and never raises on a bad value. Writes are coalesced and rate-limited
(the peer wrote in a loop with no sleep and crashed the I2C bus); a failed
write is counted and retried on the next tick, never fatal.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

from edgeapp.pantilt.actuator import Actuator, ActuatorError, Devices
from edgeapp.pantilt.config import PanTiltConfig
from edgeapp.pantilt.rigs import RIGS

log = logging.getLogger(__name__)

@dataclass
class RigStats:
    writes: int = 0
    write_errors: int = 0  # failed writes (each is retried on the next tick)
    rejected: int = 0  # commands refused before reaching the hardware (not a number, out of range)
    releases: int = 0
    last_error: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Rig:
    """Owns one actuator. ``command`` from any thread; one owner thread (or :meth:`step`, in tests) writes."""

    def __init__(self, actuator: Actuator, rate_hz: float = 50.0, idle_release_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        self.actuator = actuator
        self.interval = 1.0 / rate_hz
        self.idle_release_s = idle_release_s
        self.clock = clock
        self.stats = RigStats()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: tuple[float | None, float | None] | None = None
        self._position: tuple[float | None, float | None] = (None, None)
        self._last_write = -math.inf
        self._last_move = clock()
        self._released = True
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._closed = False

    # -- any thread --------------------------------------------------------------
    def command(self, pan: float | None, tilt: float | None) -> bool:
        """Leave a new setpoint for the owner thread; False (and a logged message) for a bad one."""
        for axis, value in (("pan", pan), ("tilt", tilt)):
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                self._reject(f"{self.actuator.name}: {axis} angle {value!r} is not a finite number; ignored")
                return False
        with self._lock:
            self._pending = (pan, tilt)
        self._wake.set()
        return True

    @property
    def position(self) -> tuple[float | None, float | None]:
        """The last angles written successfully."""
        return self._position

    def start(self) -> Rig:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=f"rig-{self.actuator.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self, home: tuple[float | None, float | None] | None = None, release: bool = True,
             timeout: float = 2.0) -> None:
        """Stop the owner thread; write ``home`` first if given, then release the servos and close.
        Only the first call acts: the actuator is closed after it."""
        if self._closed:
            return
        self._closed = True
        if home is not None:
            self.command(*home)
        if self._thread is not None:
            deadline = time.monotonic() + timeout
            while self._pending is not None and time.monotonic() < deadline:
                time.sleep(self.interval / 2)
            self._stopping = True
            self._wake.set()
            self._thread.join(timeout)
            self._thread = None
        else:
            self.flush()
        try:
            if release:
                self.actuator.release()
        except Exception as exc:  # noqa: BLE001 - shutting down: report, don't raise over the real exit reason
            log.warning("%s: release failed: %s", self.actuator.name, exc)
        finally:
            self.actuator.close()

    def close(self) -> None:
        """:meth:`stop` without a home position (the rig stays where it is, released)."""
        self.stop()

    def __enter__(self) -> Rig:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the owner thread --------------------------------------------------------
    def flush(self) -> None:
        """Write any pending setpoint now, ignoring the rate limit (no thread running: tests, shutdown)."""
        self._last_write = -math.inf
        self.step()

    def step(self, now: float | None = None) -> bool:
        """One tick of the owner thread: write the pending setpoint if the rate limit allows. True if written."""
        now = self.clock() if now is None else now
        with self._lock:
            pending = self._pending
            if pending is not None and not self._released and _already_at(pending, self._position):
                # The controller commands every frame; a setpoint where the rig already is would only
                # load the bus and keep resetting the idle timer, so idle release could never come.
                self._pending = pending = None
        if pending is None:
            if (self.idle_release_s > 0 and not self._released
                    and now - self._last_move >= self.idle_release_s):
                self._release()
            return False
        if now - self._last_write < self.interval:
            return False
        self._last_write = now
        try:
            self.actuator.write(*pending)
        except ActuatorError as exc:
            # Retrying cannot help a command the device refuses: drop it, say why.
            with self._lock:
                if self._pending is pending:
                    self._pending = None
            self._reject(str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - a bus error must never end the owner thread
            self.stats.write_errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            if self.stats.write_errors == 1 or self.stats.write_errors % 100 == 0:
                log.warning("%s: write failed (%d so far), retrying: %s", self.actuator.name,
                            self.stats.write_errors, self.stats.last_error)
            return False
        with self._lock:
            if self._pending is pending:
                self._pending = None
            old = self._position
            self._position = (pending[0] if pending[0] is not None else old[0],
                              pending[1] if pending[1] is not None else old[1])
        self.stats.writes += 1
        self._last_move = now
        self._released = False
        return True

    def _run(self) -> None:
        while not self._stopping:
            wait = max(0.0, self._last_write + self.interval - self.clock())
            if self._pending is None:
                wait = self.idle_release_s if self.idle_release_s > 0 and not self._released else 1.0
            self._wake.wait(wait)
            self._wake.clear()
            if self._stopping:
                break
            self.step()
        self.step(self.clock() + self.interval)  # the last setpoint (e.g. home) before stopping

    def _release(self) -> None:
        try:
            self.actuator.release()
            self.stats.releases += 1
            self._released = True
        except Exception as exc:  # noqa: BLE001
            self.stats.write_errors += 1
            self.stats.last_error = f"release: {type(exc).__name__}: {exc}"

    def _reject(self, message: str) -> None:
        self.stats.rejected += 1
        self.stats.last_error = message
        log.error("%s", message)


def _already_at(setpoint: tuple[float | None, float | None], position: tuple[float | None, float | None]) -> bool:
    return all(want is None or want == have for want, have in zip(setpoint, position))


def open_actuator(config: PanTiltConfig, *, pin_factory=None, bus=None, clock=time.monotonic) -> Actuator:
    """The actuator the ``[pantilt]`` table names. ``pin_factory``/``bus`` inject gpiozero's and I2C's for tests."""
    rig = RIGS.get(config.rig)
    if rig is None:
        raise ActuatorError(f"pantilt.rig is {config.rig!r}: there is no rig to drive (set it to {' or '.join(RIGS)})")
    return rig.open(config, Devices(pin_factory=pin_factory, bus=bus, clock=clock))


def open_rig(config: PanTiltConfig, *, pin_factory=None, bus=None, clock=time.monotonic, start: bool = True) -> Rig:
    """An actuator from the config, behind its owner thread (started unless ``start`` is False)."""
    actuator = open_actuator(config, pin_factory=pin_factory, bus=bus, clock=clock)
    rig = Rig(actuator, rate_hz=config.rate_hz, idle_release_s=config.idle_release_s, clock=clock)
    return rig.start() if start else rig
