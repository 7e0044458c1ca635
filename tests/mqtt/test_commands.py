"""Command validation on its own (the broker-level fuzz is in test_control.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeapp.mqtt.commands import FEATURES, MAX_COMMAND_BYTES, Commands
from edgeapp.mqtt.topics import Topics

TOPICS = Topics("edgeapp", "pi")


class Harness:
    def __init__(self):
        self.errors, self.states, self.calls = [], {}, []
        self.commands = Commands(TOPICS, report=self.errors.append, publish_state=self.states.__setitem__)
        for feature in FEATURES:
            self.commands.register(feature, lambda v, f=feature: self.calls.append((f, v)))

    def send(self, feature: str, payload: bytes) -> bool:
        return self.commands.dispatch(TOPICS.command(feature), payload)


@pytest.mark.parametrize("feature, payload, state", [
    ("tracking", b"ON", "ON"), ("tracking", b"OFF", "OFF"), ("tracking", b"true", "ON"), ("tracking", b' "OFF" ', "OFF"),
    ("classification", b"OFF", "OFF"), ("pose_rate", b"2.5", "2.5"), ("pose_rate", b"0", "0"),
])
def test_valid_commands_reach_the_handler_and_set_the_retained_state(feature, payload, state):
    h = Harness()
    assert h.send(feature, payload)
    assert h.states[TOPICS.state(feature)] == state and not h.errors


def test_snapshot_press_records_when():
    h = Harness()
    assert h.send("snapshot", b"PRESS")
    assert float(h.states[TOPICS.state("snapshot")]) > 0


@pytest.mark.parametrize("feature, payload, words", [
    ("tracking", b"on", "bad JSON"),
    ("tracking", b"{", "bad JSON"),
    ("tracking", b"1", "expected ON or OFF"),
    ("pose_rate", b"31", "out of range"),
    ("pose_rate", b"NaN", "expected a number"),
    ("pose_rate", b"true", "expected a number"),
    ("snapshot", b"ON", "expected PRESS"),
    ("lights", b"ON", "unknown feature"),
    ("tracking", b"\xff\xfe", "not UTF-8"),
    ("tracking", b" " * (MAX_COMMAND_BYTES + 1), "over the 256 byte limit"),
])
def test_bad_commands_become_error_events_and_never_reach_a_handler(feature, payload, words):
    h = Harness()
    assert not h.send(feature, payload)
    assert not h.calls and not h.states
    (error,) = h.errors
    assert error.source == "command" and words in error.message and error.detail["feature"] == feature


def test_a_feature_without_a_handler_is_not_available():
    errors = []
    commands = Commands(TOPICS, report=errors.append, publish_state=lambda t, p: None)
    assert not commands.dispatch(TOPICS.command("tracking"), b"ON")
    assert "not available" in errors[0].message


def test_a_failing_handler_is_reported_not_raised():
    errors = []
    commands = Commands(TOPICS, report=errors.append, publish_state=lambda t, p: None)
    commands.register("tracking", lambda v: 1 / 0)
    assert not commands.dispatch(TOPICS.command("tracking"), b"ON")
    assert "ZeroDivisionError" in errors[0].message


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(feature=st.sampled_from([*FEATURES, "nope", "", "tracking/x"]),
       payload=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                         st.sampled_from([b"ON", b"OFF", b"PRESS", b"1e999", b"-0", b"[]", b"{}", b"null"])))
def test_fuzz_every_payload_is_either_accepted_or_rejected_with_one_error(feature, payload):
    h = Harness()
    accepted = h.send(feature, payload)
    assert accepted == (len(h.calls) == 1) and accepted != (len(h.errors) == 1)
    assert h.commands.accepted + h.commands.rejected == 1
