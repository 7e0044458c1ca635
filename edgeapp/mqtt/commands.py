"""Runtime commands, Frigate style: ``<prefix>/<device>/<feature>/set`` in, a retained
``<prefix>/<device>/<feature>/state`` out.

Payloads follow Home Assistant's defaults so its switch, number and button entities work
unchanged: ``ON``/``OFF``, a bare number, ``PRESS``. Any other payload must be JSON of the
right type (``true``, ``"ON"``, ``2.5``). Everything else is rejected with an error event
and a log line (both bounded in size; the publisher bounds error events to 20 a second and the
logging setup rate-limits repeated lines); a bad command never reaches a handler and never raises
out of here.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeapp.events import ErrorEvent
from edgeapp.logs import shorten
from edgeapp.mqtt.config import MAX_POSE_RATE
from edgeapp.mqtt.topics import Topics

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 256
MAX_ECHO_CHARS = 120  # of a bad command's feature, topic or reason in an error event or a log line
BARE_WORDS = ("ON", "OFF", "PRESS")  # Home Assistant's default payloads, not JSON


class CommandRejected(ValueError):
    """A handler may raise this to refuse a well-formed value (the message is published)."""


@dataclass(frozen=True)
class Feature:
    name: str
    parse: Callable[[Any], Any]  # JSON value or bare word -> typed value; raises CommandRejected
    render: Callable[[Any], str]  # typed state -> state payload
    help: str
    bare_text: bool = False  # a payload that is not JSON is a string (Home Assistant's text/select entities)


def _switch(value: Any) -> bool:
    # "is", not "in": 1 == True in Python, and 1 is not an accepted switch payload.
    if value == "ON" or value is True:
        return True
    if value == "OFF" or value is False:
        return False
    raise CommandRejected(f"expected ON or OFF, got {_short(value)}")


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CommandRejected(f"expected a number of events per second, got {_short(value)}")
    if not 0 <= value <= MAX_POSE_RATE:
        raise CommandRejected(f"{value} is out of range 0..{MAX_POSE_RATE:g}")
    return float(value)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", value):
        raise CommandRejected(f"expected a name (lower case letters, digits, _), got {_short(value)}")
    return value


def _press(value: Any) -> float:
    if value != "PRESS" and value is not True:
        raise CommandRejected(f"expected PRESS, got {_short(value)}")
    return time.time()  # the state says when the last request was accepted


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("tracking", _switch, lambda on: "ON" if on else "OFF", "pan/tilt tracking on or off"),
    Feature("classification", _switch, lambda on: "ON" if on else "OFF", "yoga pose classification on or off"),
    Feature("pose_rate", _rate, lambda rate: f"{rate:g}", f"pose events per second, 0..{MAX_POSE_RATE:g}"),
    Feature("snapshot", _press, lambda t: f"{t:.3f}", "take a snapshot now"),
    Feature("exercise", _name, str, "exercise to count (restarts the count)", bare_text=True),
    Feature("reps_reset", _press, lambda t: f"{t:.3f}", "restart the rep count"),
)}

# A handler gets the parsed value and returns the state to publish (None: the value itself).
Handler = Callable[[Any], Any]


class Commands:
    """The handler registry and the dispatcher. ``dispatch`` runs on the MQTT network
    thread: handlers must be quick (set a flag, put on a queue), never do I/O."""

    def __init__(self, topics: Topics, report: Callable[[ErrorEvent], None],
                 publish_state: Callable[[str, str], None], registered: Callable[[str], None] = lambda f: None):
        self._topics = topics
        self._report = report
        self._publish_state = publish_state
        self._registered = registered
        self._handlers: dict[str, Handler] = {}
        self._states: dict[str, str] = {}
        self.rejected = 0
        self.accepted = 0

    def register(self, feature: str, handler: Handler, initial: Any = None) -> None:
        """React to ``<feature>/set``. ``initial`` is the state to announce before any command."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r} (known: {', '.join(FEATURES)})")
        self._handlers[feature] = handler
        if initial is not None:
            self._set_state(feature, initial)
        self._registered(feature)

    @property
    def registered(self) -> tuple[str, ...]:
        return tuple(list(self._handlers))

    def states(self) -> dict[str, str]:
        """Topic -> retained payload, re-published on every connect."""
        # list() copies in one step: the service may register while the MQTT thread reads this.
        return {self._topics.state(f): s for f, s in list(self._states.items())}

    def dispatch(self, topic: str, payload: bytes) -> bool:
        """Validate and apply one command; True if a handler accepted it."""
        feature = self._topics.feature_of(topic) or topic
        try:
            value = self._parse(feature, payload)
            state = self._handlers[feature](value)
        except CommandRejected as exc:
            return self._reject(feature, topic, payload, str(exc))
        except Exception as exc:  # a handler bug must not take the MQTT thread with it
            log.exception("command handler for %s failed", feature)
            return self._reject(feature, topic, payload, f"handler failed: {type(exc).__name__}: {exc}")
        self.accepted += 1
        self._set_state(feature, value if state is None else state)
        return True

    def _parse(self, feature: str, payload: bytes) -> Any:
        if feature not in FEATURES:
            raise CommandRejected(f"unknown feature (known: {', '.join(FEATURES)})")
        if feature not in self._handlers:
            raise CommandRejected("not available on this device")
        if len(payload) > MAX_COMMAND_BYTES:
            raise CommandRejected(f"payload of {len(payload)} bytes is over the {MAX_COMMAND_BYTES} byte limit")
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CommandRejected("payload is not UTF-8") from None
        if text in BARE_WORDS:
            return FEATURES[feature].parse(text)
        try:
            value = json.loads(text)
        except ValueError as exc:
            if FEATURES[feature].bare_text:
                return FEATURES[feature].parse(text)
            raise CommandRejected(f"bad JSON: {exc}") from None
        return FEATURES[feature].parse(value)

    def _set_state(self, feature: str, state: Any) -> None:
        payload = FEATURES[feature].render(state)
        self._states[feature] = payload
        self._publish_state(self._topics.state(feature), payload)

    def _reject(self, feature: str, topic: str, payload: bytes, reason: str) -> bool:
        # Everything echoed is cut short: a topic may be 64 KiB of a stranger's choosing.
        self.rejected += 1
        feature, topic = shorten(feature, MAX_ECHO_CHARS), shorten(topic, MAX_ECHO_CHARS)
        message = f"command {feature!r} rejected: {shorten(reason, MAX_ECHO_CHARS)}"
        log.warning("%s (topic %s)", message, topic)
        self._report(ErrorEvent(source="command", message=message,
                                detail={"topic": topic, "feature": feature, "payload": _excerpt(payload)}))
        return False


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _excerpt(payload: bytes) -> str:
    """Enough of a bad payload to recognise it, always valid text for the error event."""
    return payload[:64].decode("utf-8", "backslashreplace") + ("..." if len(payload) > 64 else "")
