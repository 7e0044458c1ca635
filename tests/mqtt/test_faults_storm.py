"""2,000 garbage commands against ``edgeapp run``: bounded error events, bounded echoes, frames go on.

A real service on a looping clip with the preview on, a real broker, a real storm (random
payloads, unknown features, a 60,000-character feature name). Checked on what a consumer and an
operator see: the error events (at most 20 in any second, none over 4 KiB, the rest counted in
the final stats), pose events and frames during the storm, and the service's own log.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from support.config import write_config
from support.shared import MODELS, VIDEO
from edgeapp.bench.mqtt import free_port
from preview.conftest import get_json, wait_until

from .conftest import Recorder, WAIT_S

STORM = 2000
BASE = "edgeapp/storm"


def garbage(rng: random.Random) -> tuple[str, bytes]:
    feature = rng.choice(["tracking", "pose_rate", "snapshot", "classification", "nope", "%", "x" * 60_000])
    payload = rng.choice([os.urandom(rng.randint(0, 300)), b"{" * 50, b"\xff\xfe", b"9" * 400, b'"ON "', b"1e999"])
    return f"{BASE}/{feature}/set", payload


def test_2000_garbage_commands(tmp_path, broker):
    port = free_port()
    cfg = write_config(tmp_path / "config.toml",
                       source={"uri": str(VIDEO / "opencv_vtest_30s_h264.mp4"), "loop": True},
                       runtime={"models_dir": str(MODELS), "threads": 1},
                       preview={"enabled": True, "port": port},
                       mqtt={"host": "127.0.0.1", "port": broker.port, "device_id": "storm", "pose_rate": 5.0,
                             "outbox_path": str(tmp_path / "outbox.sqlite3")})
    rec = Recorder(broker.port, f"{BASE}/events/#", client_id="storm-recorder")
    proc = subprocess.Popen([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    sender = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="storm-sender")
    try:
        healthz = f"http://127.0.0.1:{port}/healthz"
        wait_until(lambda: _frames(healthz) > 0, 90, what="the first frame")
        rec.wait_for(lambda r: r.events("pose"), timeout=30, what="pose events")
        sender.connect("127.0.0.1", broker.port)
        sender.loop_start()
        frames_before, poses_before = _frames(healthz), len(rec.events("pose"))
        rng = random.Random(17)
        began = time.monotonic()
        for _ in range(STORM):
            sender.publish(*garbage(rng), qos=0)
        storm_s = time.monotonic() - began
        time.sleep(2.0)  # the storm's tail reaches the device
        assert _frames(healthz) > frames_before, "frames stopped during the storm"
        rec.wait_for(lambda r: len(r.events("pose")) > poses_before + 3, what="pose events after the storm")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        rec.wait_for(lambda r: r.events("stats"), what="the final stats")
    finally:
        sender.loop_stop()
        sender.disconnect()
        rec.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]

    errors = [m for m in rec.messages if m.topic == f"{BASE}/events/error"]
    stamps = sorted(json.loads(m.payload)["ts"] for m in errors)
    busiest = max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps)
    largest = max(len(m.payload) for m in errors)
    mqtt = rec.events("stats")[-1].event.mqtt
    assert busiest <= 20, busiest
    assert largest <= 4096, largest
    assert mqtt["commands_rejected"] >= STORM * 0.9  # qos 0: the broker may shed a few under the storm
    assert len(errors) + mqtt["errors_suppressed"] == mqtt["commands_rejected"], (len(errors), mqtt)
    assert any(json.loads(m.payload)["detail"].get("suppressed_before") for m in errors) or len(errors) <= 20
    # The log: small, short lines, no traceback, and the storm summarised rather than repeated.
    lines = err.splitlines()
    assert "Traceback" not in err
    assert max(map(len, lines)) <= 2100 and len(err) < 20_000, (len(lines), len(err))
    rejected_lines = [ln for ln in lines if "rejected" in ln]
    assert len(rejected_lines) <= 10, len(rejected_lines)
    print(f"\n{STORM} garbage commands in {storm_s:.1f} s: {mqtt['commands_rejected']} rejected, {len(errors)} error "
          f"events (busiest second {busiest}, largest {largest} bytes), {mqtt['errors_suppressed']} held back and "
          f"counted; log {len(lines)} lines / {len(err)} bytes ({len(rejected_lines)} about rejections)")


def _frames(url: str) -> int:
    try:
        return get_json(url, timeout=2)[1].get("frames", 0)
    except OSError:
        return 0
