"""``edgeapp run`` as systemd runs it: a real process, a real notify socket, a real broker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.config import write_config
from support.shared import MODELS, REPO, VIDEO
from edgeapp.bench.mqtt import LocalMosquitto
from edgeapp.config import AppConfig, load_config
from edgeapp.errors import EXIT_CONFIG
from edgeapp.service.notify import SystemdNotifier
from edgeapp.service.runner import EXIT_STALLED, StallWatchdog

CLIP = VIDEO / "opencv_vtest_30s_h264.mp4"



class NotifySocket:
    """The receiving end of sd_notify, as systemd holds it."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(self, text: str, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, m in self.messages:
                if text in m.split("\n"):
                    return at
            time.sleep(0.05)
        raise AssertionError(f"{text} never arrived; got {self.messages}")

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def broker(tmp_path):
    b = LocalMosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def start(config: Path, env: dict, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edgeapp", "run", "--config", str(config), *args],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def subscribe(port: int, out: Path) -> subprocess.Popen:
    return subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "edgeapp/#", "-v"],
                            stdout=out.open("w"), stderr=subprocess.DEVNULL)


def test_ready_after_first_frame_watchdog_pings_and_sigterm_drains(tmp_path, broker):
    cfg = write_config(
        tmp_path / "config.toml",
        source={"uri": str(CLIP), "loop": True},
        tasks={"pose": True, "classify": True},
        runtime={"models_dir": str(MODELS), "threads": 2},
        mqtt={"host": "127.0.0.1", "port": broker.port, "device_id": "kiosk-7",
              "outbox_path": str(tmp_path / "outbox.sqlite3"), "pose_rate": 5.0},
    )
    received = tmp_path / "sub.txt"
    sub = subscribe(broker.port, received)
    notify = NotifySocket(tmp_path / "notify.sock")
    proc = start(cfg, {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"})
    try:
        notify.wait_for("READY=1")
        ready = next(m.split("\n") for _, m in notify.messages if "READY=1" in m.split("\n"))
        assert any(f.startswith("STATUS=") and "backend cpu" in f for f in ready), ready  # READY says how it runs
        notify.wait_for("WATCHDOG=1")
        time.sleep(1.5)  # pings keep coming while frames flow: at least one every 0.5 s
        pings = [at for at, m in notify.messages if "WATCHDOG=1" in m]
        assert len(pings) >= 3 and max(b - a for a, b in zip(pings, pings[1:])) < 2.0  # within WATCHDOG_USEC
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        notify.wait_for("STOPPING=1")
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        time.sleep(0.5)
        sub.terminate()
        sub.wait()
    lines = received.read_text().splitlines()
    topics = [line.split(" ", 1)[0] for line in lines]
    assert topics.count("edgeapp/kiosk-7/available") >= 2
    available = [line for line in lines if line.startswith("edgeapp/kiosk-7/available ")]
    assert available[-1] == "edgeapp/kiosk-7/available stopped", available
    events = [json.loads(line.split(" ", 1)[1]) for line in lines if "/events/" in line]
    kinds = {e["event"] for e in events}
    assert {"pose", "stats"} <= kinds
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_bad_config_exits_78_naming_the_key(tmp_path):
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(CLIP), "fps": -1})
    r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == EXIT_CONFIG == 78
    assert "config source.fps" in r.stderr and "Traceback" not in r.stderr


def test_missing_config_file_is_a_config_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgeapp", "config", "check", str(tmp_path / "none.toml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 78 and "config file not found" in r.stderr


def test_run_prints_events_and_stops_at_max_frames(tmp_path):
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(VIDEO / "carving_ice.mp4")},
                       runtime={"models_dir": str(MODELS), "threads": 2})
    r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg), "--max-frames", "25",
                        "--print-events"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    poses = [e for e in events if e["event"] == "pose"]
    assert len(poses) == 25 and poses[0]["frame"] == 0
    # 25 frames, 26 pose invokes: the first frame's second pass, in the crop its whole-frame pass gave
    assert events[-1]["event"] == "stats" and events[-1]["models"]["pose"]["n"] == 26
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_only_the_service_takes_short_gil_turns(tmp_path):
    """`run` shortens CPython's switch interval for its frame loop; any other command keeps the default."""
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(VIDEO / "carving_ice.mp4")},
                       runtime={"models_dir": str(MODELS), "threads": 1})
    then = "import sys; from edgeapp.cli import main; main(sys.argv[1:]); print(sys.getswitchinterval())"

    def interval_after(*args: str) -> float:
        r = subprocess.run([sys.executable, "-c", then, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return float(r.stdout.splitlines()[-1])

    assert interval_after("config", "check", str(cfg)) == 0.005  # CPython's default
    assert interval_after("run", "--config", str(cfg), "--max-frames", "1") == 0.0005


def test_example_config_is_valid_and_complete():
    config = load_config(REPO / "systemd" / "config.example.toml")
    defaults = AppConfig()
    # the example documents the defaults: only the [mqtt] table's presence differs
    assert config.source == defaults.source and config.runtime == defaults.runtime
    assert config.classify == defaults.classify and config.service == defaults.service
    assert config.mqtt.enabled


def test_notifier_is_silent_outside_systemd_and_rate_limits_pings(tmp_path):
    assert not SystemdNotifier(env={}).enabled
    notify = NotifySocket(tmp_path / "n.sock")
    now = [0.0]
    n = SystemdNotifier(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "4000000"}, clock=lambda: now[0])
    for t in (0.0, 0.5, 0.9, 1.0, 1.5, 2.1):
        now[0] = t
        n.watchdog()
    time.sleep(0.3)
    assert [m for _, m in notify.messages].count("WATCHDOG=1") == 3  # at 0.0, 1.0 and 2.1: every WATCHDOG_USEC/4
    n.close()
    notify.close()


def test_stall_watchdog_exits_when_the_frame_loop_stops_turning():
    class Stuck:
        progress_at = time.monotonic() - 100

    codes = []
    stop = threading.Event()
    dog = StallWatchdog(Stuck(), timeout_s=5, stop=stop, exit=codes.append)
    dog.start()
    dog.join(5)
    assert codes == [EXIT_STALLED]


def test_pose_classification_and_detection_together_publish_to_a_real_broker(tmp_path, broker):
    cfg = write_config(
        tmp_path / "config.toml",
        source={"uri": str(CLIP)},
        tasks={"pose": True, "classify": True, "detect": True},
        runtime={"models_dir": str(MODELS), "threads": 2},
        mqtt={"host": "127.0.0.1", "port": broker.port, "device_id": "street",
              "outbox_path": str(tmp_path / "outbox.sqlite3"), "pose_rate": 30.0},
    )
    received = tmp_path / "sub.txt"
    sub = subscribe(broker.port, received)
    time.sleep(0.3)
    r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg), "--max-frames", "60"],
                       capture_output=True, text=True, timeout=300)
    time.sleep(0.5)
    sub.terminate()
    sub.wait()
    assert r.returncode == 0, r.stderr
    events = [json.loads(line.split(" ", 1)[1]) for line in received.read_text().splitlines() if "/events/" in line]
    kinds = {e["event"] for e in events}
    assert {"pose", "detection", "stats"} <= kinds
    stats = [e for e in events if e["event"] == "stats"][-1]
    assert set(stats["models"]) >= {"pose", "detect"} and "outbox_depth" in stats["mqtt"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))  # the drain on exit delivered everything, in order
    people = [e for e in events if e["event"] == "detection" and e["type"] == "new" and e["after"]["label"] == "person"]
    assert len(people) >= 3  # a street with 5-9 pedestrians


def test_snapshot_command_publishes_an_annotated_jpeg(tmp_path, broker):
    import cv2
    import numpy as np

    cfg = write_config(
        tmp_path / "config.toml",
        source={"uri": str(CLIP), "loop": True},
        tasks={"pose": True},
        runtime={"models_dir": str(MODELS), "threads": 2},
        mqtt={"host": "127.0.0.1", "port": broker.port, "device_id": "cam",
              "outbox_path": str(tmp_path / "outbox.sqlite3")},
    )
    notify = NotifySocket(tmp_path / "notify.sock")
    proc = start(cfg, {"NOTIFY_SOCKET": notify.path})
    try:
        notify.wait_for("READY=1")
        online = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "edgeapp/cam/available",
                                 "-C", "1", "-W", "10"], capture_output=True, text=True)
        assert online.stdout.strip() == "online"  # connected and subscribed to its commands
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "edgeapp/cam/snapshot/set",
                        "-m", "PRESS"], check=True)
        jpeg = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "edgeapp/cam/snapshot",
                               "-C", "1", "-W", "20"], capture_output=True, timeout=30).stdout
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (576, 768, 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        notify.close()


def test_bench_pipeline_reports_the_bound_startup_and_memory():
    r = subprocess.run([sys.executable, "-m", "edgeapp", "bench", "pipeline", "--source", str(VIDEO / "carving_ice.mp4"),
                        "--tasks", "pose,classify,detect", "--frames", "30", "--threads", "2", "--backend", "cpu",
                        "--models-dir", str(MODELS), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["frames"] == 30 and report["dropped_frames"] == 0
    assert set(report["invoke"]) >= {"pose", "detect"}
    # with the detector, a pose invoke per person found; a person found afresh by the single-pose path (no one
    # followed yet) gets a second pass in that frame
    n = report["invokes_per_frame"]
    assert n["detect"] == 1.0 and 0.5 <= n["pose"] <= 1.1
    per_frame = report["invoke"]["pose"]["mean_ms"] * n["pose"] + report["invoke"]["detect"]["mean_ms"]
    assert report["models_bound_fps"] == pytest.approx(1000 / per_frame, rel=0.01)
    assert report["fps_pct_of_bound"] == pytest.approx(100 * report["fps"] / report["models_bound_fps"], rel=0.02)
    bare = report["bare_invoke_ms"]
    assert set(bare) == {"pose", "detect"} and all(v > 0 for v in bare.values())
    assert report["bare_bound_fps"] == pytest.approx(1000 / (bare["pose"] * n["pose"] + bare["detect"]), rel=0.01)
    assert report["fps_pct_of_bare_bound"] == pytest.approx(100 * report["fps"] / report["bare_bound_fps"], rel=0.02)
    cpu = report["cpu_ms_per_frame"]
    for role in ("frame loop (and model work on it)", "model worker threads", "capture (decode, detector input)"):
        assert cpu.get(role, 0) > 0, (role, cpu)  # the rest may use less than a clock tick in 30 frames
    assert 0 < report["cores_busy"] <= (os.cpu_count() or 1) + 0.2  # how busy depends on what else runs
    s = report["startup_s"]
    assert 0 < s["build"] <= s["first_frame"] and s["first_event_received"] is not None  # a real broker received it
    assert report["events_received"] > 0 and report["peak_rss_mb"] > 50


def test_bench_pipeline_people_takes_the_counts_in_turn_within_one_run():
    """--people 1,3: one report per count, then the per-person cost from one run where the counts take turns."""
    r = subprocess.run([sys.executable, "-m", "edgeapp", "bench", "pipeline", "--source",
                        str(VIDEO / "opencv_vtest_30s_h264.mp4"), "--tasks", "pose,detect", "--people", "1,3",
                        "--frames", "40", "--threads", "2", "--backend", "cpu", "--broker", "none",
                        "--models-dir", str(MODELS), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    decoder, text, reports = json.JSONDecoder(), r.stdout.strip(), []
    while text:
        report, end = decoder.raw_decode(text)
        reports.append(report)
        text = text[end:].strip()
    one, three, cost = reports
    assert (one["people"], three["people"], cost["benchmark"]) == (1, 3, "pipeline people cost")
    counts = cost["per_count"]
    assert set(counts) == {"1", "3"} and (cost["from_people"], cost["to_people"]) == (1, 3)
    # 80 frames less the warm-up, 10 frames a turn, each turn's first two holding a switch
    assert 25 <= counts["1"]["frames"] + counts["3"]["frames"] <= 70 - 4
    assert counts["1"]["pose_invokes_per_frame"] == 1.0 and 2.0 <= counts["3"]["pose_invokes_per_frame"] <= 3.0
    assert cost["persons_added"] == pytest.approx(counts["3"]["pose_invokes_per_frame"] - 1.0, abs=0.01)
    assert cost["pose_invoke_ms_added"] > 0 and cost["pct_over_invokes"] is not None
    assert three["person_path_ms"] > three["person_extra_ms"] > 0 and one["person_path_ms"] > 0


def test_bench_pipeline_people_too_few_frames_is_a_usage_error():
    r = subprocess.run([sys.executable, "-m", "edgeapp", "bench", "pipeline", "--source", str(VIDEO / "carving_ice.mp4"),
                        "--tasks", "pose,detect", "--people", "1,3,1", "--frames", "12", "--broker", "none"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--frames 25 or more" in r.stderr and "Traceback" not in r.stderr, r.stderr
