"""The one logging setup: journald priorities, rate-limited repeats with a count, bounded lines."""

from __future__ import annotations

import io
import logging

import pytest

from edgeapp import logs


@pytest.fixture
def stream(monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    out = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield out
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_lines_carry_syslog_priorities_under_journald(stream):
    logs.configure(logging.DEBUG, stream=stream)
    log = logging.getLogger("edgeapp.test")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = stream.getvalue().splitlines()
    assert lines[:4] == ["<7>DEBUG edgeapp.test: d", "<6>INFO edgeapp.test: i", "<4>WARNING edgeapp.test: w",
                         "<3>ERROR edgeapp.test: e"]
    assert all(line.startswith("<3>") for line in lines[4:]) and "ValueError: boom" in lines[-1]


def test_repeats_are_rate_limited_and_the_next_line_says_how_many(stream):
    clock = [0.0]
    logs.configure(logging.INFO, stream=stream)
    handler = logging.getLogger().handlers[0]
    handler.filters[0]._clock = lambda: clock[0]
    log = logging.getLogger("edgeapp.test")
    for i in range(1000):
        log.warning("bad request from %s", f"10.0.0.{i % 250}")
    log.warning("something else")
    clock[0] = logs.INTERVAL_S + 1
    log.warning("bad request from %s", "10.0.0.1")
    lines = stream.getvalue().splitlines()
    assert len(lines) == logs.BURST + 2
    assert f"[{1000 - logs.BURST} more like this in the last" in lines[-1]


def test_long_lines_are_cut_and_client_errors_lose_their_stack(stream):
    logs.configure(logging.INFO, stream=stream)
    logging.getLogger("edgeapp.test").warning("x" * 100_000)
    try:
        raise ConnectionResetError("peer went away")
    except ConnectionResetError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    lines = stream.getvalue().splitlines()
    assert len(lines[0]) < logs.MAX_LINE_CHARS + 100 and "more characters" in lines[0]
    assert lines[1] == "<3>ERROR aiohttp.server: Error handling request: ConnectionResetError: peer went away"
    assert len(lines) == 2
