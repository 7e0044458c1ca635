"""A real mosquitto for every test, on a free loopback port, from a temp config; stopped by PID.

mosquitto is required: CI installs it. Missing, every test here fails loudly instead of
being skipped, so a green run always means the broker really was exercised.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgeapp.bench.mqtt import INSTALL_HINT, LocalMosquitto
from edgeapp.events import decode
from edgeapp.mqtt import MqttConfig, Publisher

WAIT_S = 10.0  # generous upper bound for conditions that normally hold within milliseconds


@pytest.fixture(scope="session", autouse=True)
def mosquitto_installed() -> None:
    missing = [exe for exe in ("mosquitto", "mosquitto_sub", "mosquitto_passwd")
               if not (shutil.which(exe) or Path("/usr/sbin", exe).exists())]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: the MQTT tests need a real broker ({INSTALL_HINT})",
                    pytrace=False)


@pytest.fixture
def broker(tmp_path: Path):
    b = LocalMosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def make_config(tmp_path: Path):
    """A config for a test publisher: its own outbox, quick reconnects."""

    def make(port: int, device: str = "dev1", **overrides) -> MqttConfig:
        values = dict(host="127.0.0.1", port=port, device_id=device, outbox_path=str(tmp_path / f"{device}.sqlite3"),
                      reconnect_min=0.05, reconnect_max=0.5, stats_interval=15.0, pose_rate=30.0)
        values.update(overrides)
        return MqttConfig(**values)

    return make


@pytest.fixture
def publishers():
    """Start publishers through this; whatever a test leaves open is closed after it."""
    made: list[Publisher] = []

    def start(config: MqttConfig, **kwargs) -> Publisher:
        p = Publisher(config, **kwargs)
        made.append(p)
        return p.start()

    yield start
    for p in made:
        p.close(drain_timeout=0)


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: bytes
    retain: bool

    @property
    def text(self) -> str:
        return self.payload.decode()

    @property
    def json(self):
        return json.loads(self.payload)


class Recorder:
    """An independent paho subscriber that keeps everything it receives. With ``persistent``
    its session (subscription and queued QoS 1 messages) survives its and the broker's
    restarts, as a fleet collector's would."""

    def __init__(self, port: int, topic: str = "#", persistent: bool = False, client_id: str = "test-recorder"):
        self.messages: list[Msg] = []
        self._cond = threading.Condition()
        self.topic = topic
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(WAIT_S), "recorder could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.messages.append(Msg(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = WAIT_S, what: str = "condition"):
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                topics = sorted({m.topic for m in self.messages})
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                                     f"{len(self.messages)} messages on {topics}")

    def on(self, topic: str) -> list[Msg]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def events(self, kind: str | None = None) -> list:
        """Decoded events (device, seq, event), in arrival order."""
        with self._cond:
            msgs = [m for m in self.messages if "/events/" in m.topic]
        decoded = [decode(m.payload) for m in msgs]
        return [r for r in decoded if kind is None or r.event.kind == kind]

    def seqs(self, kind: str | None = None) -> list[int]:
        return [r.seq for r in self.events(kind)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def recorders():
    made: list[Recorder] = []

    def make(port: int, topic: str = "#", **kwargs) -> Recorder:
        r = Recorder(port, topic, **kwargs)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def assert_in_order_none_missing(seqs: list[int], first: int, last: int) -> int:
    """At-least-once, in order: the first arrival of each seq comes in seq order with no gap
    from ``first`` to ``last``; a repeat is only ever of a seq already seen (a replay after a
    lost acknowledgement). Returns the number of repeats."""
    seen: set[int] = set()
    order = []
    for s in seqs:
        if s not in seen:
            seen.add(s)
            order.append(s)
    expected = list(range(first, last + 1))
    missing = sorted(set(expected) - seen)
    assert not missing, f"{len(missing)} seqs never arrived, e.g. {missing[:10]}"
    assert order == expected, f"out of order: first arrivals {order[:50]}..."
    return len(seqs) - len(order)


def stored_seqs(path: Path) -> list[int]:
    """The seqs an outbox's files on disk hold, read as the next start would read them: from a copy of the
    database and its WAL, since an open outbox keeps its database locked. ``cp`` copies them in a process of its
    own: closing a descriptor of the file in this one would drop the lock of an outbox open here."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["cp", *[str(p) for p in (path, Path(f"{path}-wal")) if p.exists()], tmp], check=True)
        db = sqlite3.connect(Path(tmp) / path.name)
        try:
            return [s for (s,) in db.execute("SELECT seq FROM outbox ORDER BY seq")]
        finally:
            db.close()


REOPEN_WAIT_S = 30.0  # an outbox file is retried with backoff from 1 s: the first few tries fall well inside this


def wait_until(condition, what: str, timeout: float = REOPEN_WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.2)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def first_service_error(config: Path, port: int, device: str) -> tuple[dict, int, str]:
    """``edgeapp run --config`` as systemd runs it (journal log levels), until its first error event
    arrives, then SIGTERM: (the event, the exit code, stderr)."""
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", f"edgeapp/{device}/events/error",
                            "-C", "1", "-W", "60"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)  # subscribed before the service publishes
    proc = subprocess.Popen([sys.executable, "-m", "edgeapp", "run", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "JOURNAL_STREAM": "8:1"})
    try:
        out, _ = sub.communicate(timeout=90)
        if not out:  # say why, e.g. an exit before any event
            assert proc.poll() is None, f"edgeapp run exited {proc.returncode}: {proc.communicate()[1][-2000:]}"
        error = json.loads(out)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        for p in (proc, sub):
            if p.poll() is None:
                p.kill()
                p.wait()
    return error, proc.returncode, err
