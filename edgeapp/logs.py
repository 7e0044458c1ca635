"""Logging, configured in one place for every command.

* Under systemd (``JOURNAL_STREAM`` set) each line starts with its syslog priority, ``<3>`` for
  ERROR, ``<4>`` WARNING, ``<6>`` INFO, ``<7>`` DEBUG, which journald reads as the line's level
  (``journalctl -p warning`` then finds warnings), and carries no timestamp (journald adds one).
* Repeated messages are rate-limited: per logger and message template, ``BURST`` lines pass in
  ``INTERVAL_S``; the rest are counted, and the next line that passes says how many were left out.
  A broker away for an hour, a full disk or a thousand bad requests cannot flood the journal.
* No line is longer than ``MAX_LINE_CHARS``, whatever a caller puts in it (a 60,000-character
  MQTT topic). Tracebacks of loggers that report what strangers send (aiohttp's per-request
  errors, asyncio's accept errors) are cut to their last line: the cause, not the stack.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

INTERVAL_S = 60.0
BURST = 5
MAX_LINE_CHARS = 2000
# Errors of these loggers are caused by clients, not by us: one line each, no stack.
NO_STACK_LOGGERS = ("aiohttp.server", "aiohttp.access", "aiohttp.web", "asyncio")
# Libraries that say at INFO what we say better ourselves.
QUIET_LOGGERS = {"aiohttp.access": logging.WARNING}

SYSLOG_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def syslog_priority(levelno: int) -> int:
    for level, priority in SYSLOG_PRIORITY:
        if levelno >= level:
            return priority
    return 7


class RepeatFilter(logging.Filter):
    """Lets ``burst`` records per (logger, level, template) through per ``interval_s``; counts the rest
    and notes the count on the next record of that kind that passes."""

    def __init__(self, interval_s: float = INTERVAL_S, burst: int = BURST, clock=time.monotonic):
        super().__init__()
        self.interval_s, self.burst, self._clock = interval_s, burst, clock
        self._lock = threading.Lock()
        self._windows: dict[tuple, list] = {}  # key -> [window start, passed, suppressed]
        self.suppressed = 0  # over the filter's life, for tests and stats

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg)[:200])
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window[0] >= self.interval_s:
                held = window[2] if window else 0
                if len(self._windows) > 1000:  # templates are few; this only bounds a pathological caller
                    self._windows.clear()
                self._windows[key] = [now, 1, 0]
                if held:
                    record.suppressed_note = f" [{held} more like this in the last {now - window[0]:.0f} s not logged]"
                return True
            if window[1] < self.burst:
                window[1] += 1
                return True
            window[2] += 1
            self.suppressed += 1
            return False


class EdgeappFormatter(logging.Formatter):
    def __init__(self, priorities: bool):
        fmt = "%(levelname)s %(name)s: %(message)s" if priorities else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        super().__init__(fmt)
        self.priorities = priorities

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.name.startswith(NO_STACK_LOGGERS):
            exc = record.exc_info[1]
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
            record.msg, record.args = f"{record.getMessage()}: {type(exc).__name__}: {exc}", None
        text = super().format(record) + getattr(record, "suppressed_note", "")
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + f"... [{len(text) - MAX_LINE_CHARS} more characters]"
        if self.priorities:  # a traceback's every line gets the priority, so journald keeps them together
            prefix = f"<{syslog_priority(record.levelno)}>"
            text = "\n".join(prefix + line for line in text.split("\n"))
        return text


def under_journald() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM"))


def configure(level: int | str = logging.WARNING, stream=None) -> RepeatFilter:
    """The process's one logging setup (root handler on stderr). Called again (``edgeapp run``
    after reading the config's log_level), it replaces the handler instead of adding one."""
    if isinstance(level, str):
        level = getattr(logging, level.upper())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(EdgeappFormatter(priorities=under_journald()))
    repeats = RepeatFilter()
    handler.addFilter(repeats)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(quiet, level))
    return repeats


def shorten(text: str, limit: int = 200) -> str:
    """``text`` for an echo (a log line, an error event): at most ``limit`` characters, and says so."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class Every:
    """A condition that repeats (a full outbox, a full disk): one log line per interval with the sum
    of what happened since the last line. ``add(n)`` returns that sum when a line is due, else None."""

    def __init__(self, interval_s: float = INTERVAL_S, clock=time.monotonic):
        self.interval_s, self._clock = interval_s, clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._pending = 0

    def add(self, n: int = 1) -> int | None:
        now = self._clock()
        with self._lock:
            self._pending += n
            if self._since is not None and now - self._since < self.interval_s:
                return None
            self._since, due, self._pending = now, self._pending, 0
            return due
