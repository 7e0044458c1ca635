"""``edgeapp bench mqtt``: sustained events/s through the durable outbox at QoS 1 to a
local broker, and how long the frame loop spends handing one event over.

``LocalMosquitto`` (a throw-away broker on a free loopback port) is shared with the tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edgeapp.bench import machine, print_table, show
from edgeapp.errors import EdgeappError
from edgeapp.events import DetectionEvent, encode
from edgeapp.mqtt import MqttConfig, Publisher

INSTALL_HINT = "apt-get install -y mosquitto mosquitto-clients"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalMosquitto:
    """Debian's mosquitto on 127.0.0.1:``port`` from a config written to ``workdir``; stopped
    and restarted by its PID. Persistence is on so that queued QoS 1 messages of persistent
    subscriber sessions survive a restart, as on a real broker."""

    def __init__(self, workdir: Path, port: int | None = None, anonymous: bool = True, extra: tuple[str, ...] = ()):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.anonymous = anonymous
        self.extra = extra
        self.process: subprocess.Popen | None = None
        self.log = self.workdir / "mosquitto.log"

    def config_text(self) -> str:
        return "\n".join([
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            f"log_dest file {self.log}",
            "log_type error", "log_type warning", "log_type notice",
            # The default (1000) silently drops QoS 1 messages for a subscriber that lags behind;
            # a test's or benchmark's subscriber must not lose messages to the broker's own limit.
            "max_queued_messages 1000000",
            # As root it would switch to the "mosquitto" user, who cannot read a private temp dir.
            *(["user root"] if os.geteuid() == 0 else []),
            *self.extra, "",
        ])

    def start(self, timeout: float = 5.0) -> LocalMosquitto:
        exe = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)
        if exe is None:
            raise EdgeappError(f"mosquitto is not installed ({INSTALL_HINT})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        self.process = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EdgeappError(f"mosquitto exited with {self.process.returncode}: "
                                   f"{self.process.stderr.read().decode(errors='replace')} {self._log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise EdgeappError(f"mosquitto did not listen on 127.0.0.1:{self.port} within {timeout:g} s {self._log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM lets it save its persistence file; SIGKILL is a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _log_tail(self) -> str:
        try:
            return "; log: " + " | ".join(self.log.read_text().splitlines()[-5:])
        except OSError:
            return ""

    def __enter__(self) -> LocalMosquitto:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def sample_detection(i: int) -> DetectionEvent:
    """About the size of a Frigate ``events`` message with its before/after objects."""
    obj = {"id": f"1712345678.{i:06d}-abc123", "label": "person", "score": 0.83, "top_score": 0.91,
           "box": [0.21, 0.12, 0.64, 0.97], "area": 0.3655, "start_time": 1712345678.0, "end_time": None,
           "frame_time": 1712345678.0 + i / 30, "stationary": False}
    return DetectionEvent(type="update", before=obj, after={**obj, "score": 0.84})


class _Counter:
    """A second, independent client that counts what reaches it."""

    def __init__(self, host: str, port: int, topic: str, expected: int):
        self.expected = expected
        self.count = 0
        self.done = threading.Event()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="edgeapp-bench-sub")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(host, port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        if not subscribed.wait(5):
            raise EdgeappError(f"bench subscriber could not subscribe on {host}:{port}")

    def _on_message(self, client, userdata, msg) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.done.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def bench_mqtt(host: str, port: int, events: int = 5000, qos: int = 1, workdir: Path | None = None) -> dict:
    """Publish ``events`` as fast as the hand-off queue takes them (retrying when it is full,
    which only a benchmark does) and time until the broker has acknowledged them all: the
    sustained rate with every event written durably first. A subscriber checks they arrive."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        config = MqttConfig(host=host, port=port, device_id="bench", qos=qos, outbox_path=f"{tmp}/outbox.sqlite3",
                            reconnect_min=0.1, reconnect_max=1.0)
        counter = _Counter(host, port, f"{config.topic_prefix}/bench/events/#", events)
        publisher = Publisher(config).start()
        try:
            if not publisher.wait_connected(10):
                raise EdgeappError(f"cannot connect to {host}:{port}: {publisher.stats().last_error}")
            samples = [sample_detection(i) for i in range(events)]
            handoff, full = [], 0
            t0 = time.perf_counter()
            for event in samples:
                while True:
                    t = time.perf_counter()
                    ok = publisher.publish(event)
                    handoff.append(time.perf_counter() - t)
                    if ok:
                        break
                    full += 1
                    time.sleep(0.0005)
            t_handed = time.perf_counter()
            acked = publisher.drain(max(60.0, events / 100))
            t_acked = time.perf_counter()
            delivered = counter.done.wait(30)
            stats = publisher.stats()
        finally:
            publisher.close(drain_timeout=0)
            counter.close()
    return {
        "benchmark": "mqtt",
        "broker": f"{host}:{port}",
        "qos": qos,
        "events": events,
        "all_acknowledged": acked,
        "seconds": round(t_acked - t0, 3),
        "events_per_s": round(stats.delivered / (t_acked - t0), 1),
        "handover_events_per_s": round(events / (t_handed - t0), 1),
        "received_by_subscriber": counter.count,
        "all_received": delivered,
        "handoff_us": _micros(handoff),
        "queue_full_retries": full,
        "payload_bytes": len(encode(samples[0], "bench", 1)),
        "outbox_left": stats.outbox_depth,
        "machine": machine(),
    }


def _micros(samples_s: list[float]) -> dict:
    """Hand-off times are microseconds: milliseconds would round them all to zero."""
    us = np.asarray(samples_s) * 1e6
    p50, p95, p99 = np.percentile(us, [50, 95, 99])
    return {"n": int(us.size), "p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1),
            "max": round(float(us.max()), 1)}


def print_report(r: dict, as_json: bool = False) -> None:
    show(r, as_json, f"{r['events']} detection events ({r['payload_bytes']} B) at QoS {r['qos']} through the SQLite "
                     f"outbox to {r['broker']}; all acknowledged in {r['seconds']} s, {r['received_by_subscriber']} "
                     f"received by a subscriber", _table)


def _table(r: dict) -> None:
    h = r["handoff_us"]
    rows = [
        ("sustained: stored durably, sent, PUBACKed", f"{r['events_per_s']} events/s"),
        ("publish() hand-off p50 / p99 / max", f"{h['p50']} / {h['p99']} / {h['max']} µs"),
        ("hand-off queue full (producer retried)", str(r["queue_full_retries"])),
    ]
    print_table("", rows, ("measure", "value"))
