"""A broker that takes the TCP connection and never answers (hung, or not MQTT at all): a real
listening socket on loopback that accepts and stays silent.

Was: nothing logged and no retry until paho's keepalive (60 s by default; here 120 s, so without
the bound this test cannot pass). Now: no CONNACK within the connect timeout is a failed attempt,
logged, and retried with the usual backoff; events wait in the outbox meanwhile.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from edgeapp.events import ErrorEvent
from edgeapp.mqtt.client import CONNACK_TIMEOUT_S

WAIT_S = 4 * CONNACK_TIMEOUT_S  # two silent attempts and their backoff fit well inside this; keepalive is 120 s


class Blackhole:
    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # kept open, never read nor answered

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def blackhole():
    b = Blackhole()
    yield b
    b.close()


def test_a_broker_that_never_answers_is_a_failed_connect_logged_and_retried(blackhole, make_config, publishers,
                                                                            caplog):
    caplog.set_level(logging.WARNING, logger="edgeapp.mqtt.client")
    p = publishers(make_config(blackhole.port, keepalive=120))
    assert p.publish(ErrorEvent(source="test", message="kept"))
    assert p.flush(10)
    deadline = time.monotonic() + WAIT_S
    while len(blackhole.accepted) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(blackhole.accepted) >= 2, "the silent connection was never given up and retried"
    error = p.stats().last_error or ""
    assert f"127.0.0.1:{blackhole.port} took the connection but did not accept it within " \
           f"{CONNACK_TIMEOUT_S:g} s" in error, error
    lines = [r for r in caplog.records if "did not accept it" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING  # once, not once per attempt
    s = p.stats()
    assert not s.connected and s.outbox_depth == 1 and s.connections == 0


def test_a_stop_with_the_broker_away_does_not_wait_out_the_drain_for_it(make_config, publishers):
    """A stop waits for the first connection attempt only while it is under way (a TERM during start-up still
    gets its events out); once an attempt has failed, the broker being away costs the stop nothing."""
    from edgeapp.service.runner import FanOut

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = publishers(make_config(port))
    deadline = time.monotonic() + WAIT_S
    while p.stats().last_error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.stats().last_error, "the first attempt never failed"
    stop = threading.Thread(target=FanOut([p]).close, args=(600.0,), daemon=True)  # a drain no test waits out
    stop.start()
    stop.join(WAIT_S)
    assert not stop.is_alive(), "the stop waited for a broker that is away"
