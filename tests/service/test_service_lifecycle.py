"""The service's start and stop under systemd's rules, as a real process with a real notify socket and a real
broker: READY with the camera down at boot, commands on the first connect, SIGHUP and an early SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from support.config import write_config
from support.shared import MODELS
from test_run import CLIP, NotifySocket, broker, start  # noqa: F401  (broker: the fixture)

ABSENT_CAMERA = "/dev/video97"  # a device that is not there: the service retries it


def camera_down_config(tmp_path, **tables):
    return write_config(tmp_path / "config.toml", source={"uri": ABSENT_CAMERA, "reconnect_min_s": 0.2,
                                                          "reconnect_max_s": 1.0},
                        tasks={"pose": True}, runtime={"models_dir": str(MODELS), "threads": 1}, **tables)


def mqtt_table(tmp_path, broker, device):
    return {"host": "127.0.0.1", "port": broker.port, "device_id": device, "outbox_path": str(tmp_path / "outbox.sqlite3")}


class Recorder:
    """A subscriber to one device's topics: (topic, payload, retained) in arrival order."""

    def __init__(self, port: int, device: str, on_message=None):
        self.messages: list[tuple[str, str, bool]] = []
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"rec-{device}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"edgeapp/{device}/#", qos=1)
        self.client.on_message = self._on_message
        self._react = on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg):
        self.messages.append((msg.topic, msg.payload.decode(errors="replace"), bool(msg.retain)))
        if self._react:
            self._react(client, msg)

    def last(self, topic: str) -> str | None:
        return next((p for t, p, _ in reversed(self.messages) if t == topic), None)

    def wait_for(self, test, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if test():
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> tuple[str, str]:
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_camera_missing_at_boot_is_ready_with_camera_down_and_sighup_is_a_clean_stop(tmp_path, broker):
    cfg = camera_down_config(tmp_path, mqtt=mqtt_table(tmp_path, broker, "nocam"))
    notify = NotifySocket(tmp_path / "notify.sock")
    rec = Recorder(broker.port, "nocam")
    proc = start(cfg, {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "4000000"})
    try:
        notify.wait_for("READY=1", timeout=60)  # not after TimeoutStartSec: the service is up, retrying the camera
        ready = next(m.split("\n") for _, m in notify.messages if "READY=1" in m.split("\n"))
        assert "STATUS=0.0 fps, backend cpu, camera down" in ready, ready
        notify.wait_for("WATCHDOG=1")  # the frame loop turns without frames: the watchdog is fed
        assert proc.poll() is None
        out, err = stop(proc, signal.SIGHUP)  # a closed terminal's hang-up: a clean stop, not a silent 129
        assert proc.returncode == 0, err
        assert "received SIGHUP; stopping" in err and "Traceback" not in err
        notify.wait_for("STOPPING=1")
        assert rec.wait_for(lambda: rec.last("edgeapp/nocam/available") == "stopped", 10), rec.messages
        stats = [json.loads(p) for t, p, _ in rec.messages if t == "edgeapp/nocam/events/stats"]
        assert stats and stats[-1]["camera"]["state"] == "down"  # the stop's flush: the last stats went out
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.close()
        notify.close()


def test_commands_on_the_first_connect_find_their_handlers(tmp_path, broker):
    """A retained command waiting on the broker, and one sent the moment the device says online, both apply."""
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "edgeapp/dev1/tracking/set",
                    "-m", "OFF", "-r", "-q", "1"], check=True, timeout=10)
    sent = threading.Event()

    def on_online(client, msg):
        if msg.topic == "edgeapp/dev1/available" and msg.payload == b"online" and not msg.retain and not sent.is_set():
            sent.set()
            client.publish("edgeapp/dev1/classification/set", b"OFF", qos=1)

    rec = Recorder(broker.port, "dev1", on_online)
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(CLIP), "loop": True},
                       tasks={"pose": True, "classify": True, "detect": True},
                       runtime={"models_dir": str(MODELS), "threads": 1}, mqtt=mqtt_table(tmp_path, broker, "dev1"))
    proc = start(cfg, {})
    try:
        assert rec.wait_for(sent.is_set, 60), rec.messages
        assert rec.wait_for(lambda: rec.last("edgeapp/dev1/classification/state") == "OFF", 10), rec.messages
        assert rec.wait_for(lambda: rec.last("edgeapp/dev1/tracking/state") == "OFF", 10), rec.messages
        out, err = stop(proc)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.close()
    rejected = [p for t, p, _ in rec.messages if t == "edgeapp/dev1/events/error" and "not available" in p]
    assert not rejected, rejected


def test_sigterm_while_the_models_load_is_a_clean_stop(tmp_path, broker):
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(CLIP), "loop": True},
                       tasks={"pose": True, "classify": True, "detect": True},
                       runtime={"models_dir": str(MODELS), "threads": 1, "backend": "cpu"},
                       service={"log_level": "debug"}, mqtt=mqtt_table(tmp_path, broker, "early"))
    notify = NotifySocket(tmp_path / "notify.sock")
    rec = Recorder(broker.port, "early")
    proc = start(cfg, {"NOTIFY_SOCKET": notify.path})
    try:
        for line in proc.stderr:  # the first model's interpreter is being built: the others are still to load
            if "edgeapp.runtime" in line:
                break
        out, err = stop(proc)
        assert proc.returncode == 0, err  # not 143: the stop was taken, the models finished loading, then it stopped
        assert "received SIGTERM; stopping" in err and "Traceback" not in err
        notify.wait_for("STOPPING=1")
        assert rec.wait_for(lambda: rec.last("edgeapp/early/available") == "stopped", 10), rec.messages
        assert any(t == "edgeapp/early/events/stats" for t, _, _ in rec.messages), rec.messages
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.close()
        notify.close()
