"""Where the CPU went during a benchmark: CPU time per thread, grouped by the thread's role.

Linux only (``/proc/self/task``); elsewhere the report is empty. Threads are sampled
every ``interval`` seconds because some end with the run (capture, the finishing
worker) and take their ``/proc`` entry with them: what a thread used after its last
sample is not counted. That is at most about one interval while the threads release
the GIL often, as decoding, invokes and I/O do.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_TASKS = Path("/proc/self/task")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# Python thread name prefix -> role; threads Python does not know are the models' own workers.
ROLES = (
    ("MainThread", "frame loop (and model work on it)"),
    ("capture", "capture (decode, detector input)"),
    ("finish", "finishing worker"),
    ("mqtt-", "mqtt publisher"),
    ("paho-mqtt-client-edgeapp-bench-sub", "benchmark's subscriber"),
    ("paho-", "mqtt publisher"),
)
NATIVE = "model worker threads"


def cpu_seconds(stat: str) -> float:
    """utime + stime of a ``/proc/.../stat`` line, in seconds (the command name may hold spaces)."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def role_of(name: str | None) -> str:
    if name is None:
        return NATIVE
    return next((role for prefix, role in ROLES if name.startswith(prefix)), "other")


class ThreadCpu:
    """Samples every thread's CPU time until :meth:`stop`; :meth:`by_role` sums the growth."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu", daemon=True)

    def _sample(self) -> dict[int, float]:
        seen = {}
        try:
            tids = os.listdir(_TASKS)
        except OSError:
            return seen
        for tid in tids:
            try:
                seen[int(tid)] = cpu_seconds((_TASKS / tid / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue  # ended between the listing and the read
        for t in threading.enumerate():
            if t.native_id is not None:
                self._names[t.native_id] = t.name
        return seen

    def start(self) -> ThreadCpu:
        self._start = self._sample()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._last.update(self._sample())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())

    def by_role(self) -> dict[str, float]:
        """CPU seconds used since :meth:`start`, per role (the sampler's own thread left out)."""
        out: dict[str, float] = {}
        for tid, seconds in self._last.items():
            name = self._names.get(tid)
            if name == "bench-cpu":
                continue
            used = seconds - self._start.get(tid, 0.0)
            if used > 0:
                role = role_of(name)
                out[role] = out.get(role, 0.0) + used
        return out


def process_cpu_seconds(pid: int) -> float | None:
    """A whole process's CPU time (e.g. the broker's), or None if it cannot be read."""
    try:
        return cpu_seconds(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None
