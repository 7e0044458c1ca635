"""Sources that are missing, damaged, frameless or cut, as a newcomer and a fault campaign met them: each is
reported in our words (message, exit status, error event, /healthz, /metrics, STATUS), none hangs or spins."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import pytest

from support.config import write_config
from support.mjpeg import MjpegCamera
from support.shared import IMAGES, REPO, VIDEO
from edgeapp.bench.mqtt import LocalMosquitto, free_port
from edgeapp.camera.files import VideoFileSource
from edgeapp.config import AppConfig, SourceConfig, TasksConfig
from edgeapp.events import ErrorEvent, StatsEvent
from edgeapp.service.pipeline import Pipeline
from test_camera import wait_until  # tests/service is on sys.path: pytest's rootdir-less test modules

CLIP = VIDEO / "opencv_vtest_30s_h264.mp4"
FFMPEG_LINE_MARKERS = ("[h264 @", "[mov,mp4", "Invalid NAL", "partial file")


def run(*args, cwd=None, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeapp", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)})


def truncated_clip(tmp_path: Path) -> Path:
    """The street clip cut at 40% of its bytes: the mp4 index still promises 300 frames."""
    data = CLIP.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) * 4 // 10])
    return path


def frameless_clip(tmp_path: Path) -> Path:
    """The first 6,000 bytes of the street clip (the campaign's `head -c 6000`): it opens, and decodes nothing."""
    path = tmp_path / "head.mp4"
    path.write_bytes(CLIP.read_bytes()[:6000])
    return path


# -- defect 1: a missing file at start, config paths ---------------------------------------------------------------

def test_a_missing_file_source_is_a_config_error_naming_the_path(tmp_path):
    cfg = write_config(tmp_path / "c.toml", source={"uri": "/nonexistent.mp4"}, tasks={"pose": True})
    r = run("run", "--config", cfg, timeout=60)  # it used to hang here for ever
    assert r.returncode == 78, r.stderr
    assert "source.uri" in r.stderr and "/nonexistent.mp4" in r.stderr and "Traceback" not in r.stderr
    r = run("run", "--config", cfg, "--source", tmp_path / "gone.mp4", timeout=60)
    assert r.returncode == 78 and str(tmp_path / "gone.mp4") in r.stderr


def test_a_camera_device_that_is_not_there_yet_is_retried_and_reported(tmp_path):
    events: list = []

    class Sink:
        def publish(self, event):
            events.append(event)
            return True

    config = AppConfig(source=SourceConfig(uri="/dev/video97", reconnect_min_s=0.05, reconnect_max_s=0.2),
                       tasks=TasksConfig(pose=True))
    pipeline = Pipeline(config, Sink())  # no config error: a device may appear later
    stop = threading.Event()
    runner = threading.Thread(target=pipeline.run, args=(stop,), daemon=True)
    runner.start()
    try:
        assert wait_until(lambda: any(isinstance(e, ErrorEvent) for e in events), 10)
        assert pipeline.camera()["state"] == "down"
        outage = next(e for e in events if isinstance(e, ErrorEvent))
        assert outage.source == "camera" and "/dev/video97" in outage.message and "is not there" in outage.message
        # the stats event follows the error event from the frame loop's thread: wait for it, do not race it
        assert wait_until(lambda: any(isinstance(e, StatsEvent) for e in events), 10)
        stats = next(e for e in events if isinstance(e, StatsEvent))
        assert stats.camera["state"] == "down" and stats.camera["outages"] == 1
        assert runner.is_alive()  # still retrying
    finally:
        stop.set()
        runner.join(10)
        pipeline.close()
    assert len([e for e in events if isinstance(e, ErrorEvent)]) == 1  # one outage, one event, however many tries


def test_config_paths_are_relative_to_the_config_file(tmp_path):
    here = tmp_path / "site" / "conf"
    here.mkdir(parents=True)
    shutil.copyfile(VIDEO / "carving_ice.mp4", here.parent / "clip.mp4")
    cfg = write_config(here / "c.toml", source={"uri": "../clip.mp4"}, tasks={"pose": True})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = run("config", "check", cfg, cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert f"source {here.parent / 'clip.mp4'}" in r.stdout
    r = run("run", "--config", cfg, "--max-frames", "2", "--print-events", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert '"event":"pose"' in r.stdout


def test_the_demo_config_works_from_any_directory(tmp_path):
    r = run("run", "--config", REPO / "docs" / "demo.toml", "--max-frames", "3", "--print-events", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    kinds = {json.loads(line)["event"] for line in r.stdout.splitlines()}
    assert {"pose", "stats"} <= kinds  # the clip was found, relative to docs/


# -- defect 2: a video that ends early or is damaged ----------------------------------------------------------------

def test_a_truncated_video_is_an_error_for_infer(tmp_path):
    clip = truncated_clip(tmp_path)
    r = run("infer", "pose", clip, "--backend", "cpu", "--threads", "2")
    frames = r.stdout.splitlines()
    assert r.returncode != 0 and 0 < len(frames) < 300
    assert f"ended after {len(frames)} of its 300 frames" in r.stderr and "truncated or damaged" in r.stderr
    assert not any(marker in r.stderr for marker in FFMPEG_LINE_MARKERS), r.stderr  # our message, not FFmpeg's


def test_a_truncated_video_is_an_error_event_and_a_failed_run_for_the_service(tmp_path):
    clip = truncated_clip(tmp_path)
    cfg = write_config(tmp_path / "c.toml", source={"uri": str(clip)}, tasks={"pose": True})
    r = run("run", "--config", cfg, "--print-events")
    assert r.returncode != 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    errors = [e for e in events if e["event"] == "error"]
    assert len(errors) == 1 and errors[0]["source"] == "camera" and "of its 300 frames" in errors[0]["message"]
    assert events[-1]["event"] == "stats"  # and the service still stopped in order
    assert "truncated or damaged" in r.stderr and "Traceback" not in r.stderr


def test_whole_clips_are_not_reported_as_truncated():
    for clip in (CLIP, VIDEO / "carving_ice.mp4"):
        source = VideoFileSource(clip)
        n = sum(1 for _ in source.frames())  # raises SourceError if it thought the clip short
        assert n == int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))


# -- issue 17 item 6: a file that opens but yields no frames --------------------------------------------------------

class CountingSource(VideoFileSource):
    """The real source, counting how often it opens the file."""

    opens = 0

    def _open(self):
        self.opens += 1
        return super()._open()


def test_a_frameless_looping_file_backs_off_instead_of_spinning(tmp_path):
    source = CountingSource(frameless_clip(tmp_path), loop=True, retry=True, reconnect_min_s=0.05,
                            reconnect_max_s=0.4)
    thread = threading.Thread(target=lambda: list(source.frames()), daemon=True)
    thread.start()
    time.sleep(2.0)
    source.close()
    thread.join(5)
    # backoff 0.05 s doubling to 0.4 s: at most ~12 opens in 2 s; spinning made thousands
    assert 1 < source.opens <= 15, source.opens
    assert source.status.state == "down" and "no decodable frames" in source.status.last_error
    assert source.status.outages == 1


def test_a_frameless_looping_file_keeps_the_log_small(tmp_path):
    cfg = write_config(tmp_path / "c.toml", tasks={"pose": True},
                       source={"uri": str(frameless_clip(tmp_path)), "loop": True, "reconnect_min_s": 0.05,
                               "reconnect_max_s": 0.5})
    proc = subprocess.Popen([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg), "--print-events"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    first = proc.stdout.readline()  # the outage's error event: the service is up and the file failed
    time.sleep(3)  # many backoff rounds
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert '"source":"camera"' in first and "no decodable frames" in first
    assert len(err.splitlines()) < 10, err  # 207,183 FFmpeg lines in 20 s before
    assert not any(marker in err for marker in FFMPEG_LINE_MARKERS)
    assert not any('"source":"camera"' in line for line in out.splitlines())  # one outage, one error event


# -- issue 17 item 5: a camera cut shows everywhere, and so does its return -----------------------------------------

def healthz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def metric(port: int, name: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def test_a_camera_cut_and_its_return_show_on_healthz_metrics_status_and_mqtt_within_5_s(tmp_path):
    from test_run import NotifySocket  # the sd_notify receiver the other service tests use

    camera = MjpegCamera(cv2.imread(str(IMAGES / "squat.bmp")), fps=20)
    broker = LocalMosquitto(tmp_path / "broker").start()
    notify = NotifySocket(tmp_path / "notify.sock")
    port = free_port()
    cfg = write_config(tmp_path / "c.toml", tasks={"pose": True},
                       source={"uri": camera.url, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0,
                               "read_timeout_s": 2.0},
                       preview={"enabled": True, "port": port},
                       mqtt={"host": "127.0.0.1", "port": broker.port, "outbox_path": str(tmp_path / "o.db"),
                             "device_id": "cam-test"})
    events_file = tmp_path / "events.txt"
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "edgeapp/#", "-v"],
                           stdout=events_file.open("w"), stderr=subprocess.DEVNULL)
    proc = subprocess.Popen([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg)],
                            env={**os.environ, "PYTHONPATH": str(REPO), "NOTIFY_SOCKET": notify.path},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    figures = {}

    def camera_events(state: str, after: int = 0) -> list[dict]:
        out = []
        for line in events_file.read_text().splitlines()[after:]:
            topic, _, body = line.partition(" ")
            if body.startswith("{"):
                e = json.loads(body)
                if (e["event"] == "error" and e.get("source") == "camera" and state == "down") or \
                        (e["event"] == "stats" and (e.get("camera") or {}).get("state") == state):
                    out.append(e)
        return out

    def status_says(state: str, after: int) -> bool:
        return any(f"camera {state}" in m for _, m in notify.messages[after:]
                   if m.startswith("STATUS=") or "\nSTATUS=" in m)

    def shows(state: str, since: float) -> None:
        """Every channel says ``state`` in what it sent after ``since`` (READY's STATUS and the stats before
        the cut already said "up", so only later messages and events count)."""
        code = 503 if state == "down" else 200
        messages, lines = len(notify.messages), len(events_file.read_text().splitlines())
        checks = {
            "/healthz": lambda: (lambda r: r[0] == code and r[1]["camera"] == state)(healthz(port)),
            "/metrics": lambda: metric(port, "edgeapp_camera_up") == (1.0 if state == "up" else 0.0),
            "STATUS": lambda: status_says(state, messages),
            "mqtt": lambda: len(camera_events(state, lines)) > 0,
        }
        for where, check in checks.items():
            assert wait_until(check, timeout=max(0.1, 5.0 - (time.monotonic() - since))), \
                f"camera {state} not on {where} within 5 s"
            figures[f"{state} on {where}"] = round(time.monotonic() - since, 2)

    try:
        notify.wait_for("READY=1", timeout=60)
        assert wait_until(lambda: healthz(port)[0] == 200, 10)
        cut = time.monotonic()
        camera.stop()
        shows("down", cut)
        assert healthz(port)[1]["frames"] > 0
        back = time.monotonic()
        camera.start()
        shows("up", back)
        print("camera outage seen after (s):", figures)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        sub.terminate()
        sub.wait(10)
        broker.stop()
        notify.close()
        camera.stop()
    assert proc.returncode == 0, err
    assert sum("is down" in line for line in err.splitlines()) == 1 and "Traceback" not in err


# -- cam2 item 1: a truncated file that loops is one outage that stays, not one per pass ----------------------------

def first_300_kb(tmp_path: Path) -> Path:
    """The campaign's half.mp4: the street clip's first 300 KB (43 of its 300 frames decode with this FFmpeg)."""
    path = tmp_path / "half.mp4"
    path.write_bytes(CLIP.read_bytes()[:300_000])
    return path


def decodable_frames(path: Path) -> int:
    """How many frames this machine's OpenCV decodes from ``path`` (the count depends on the FFmpeg build)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_a_truncated_looping_file_is_one_outage_that_stays_while_what_decodes_plays(tmp_path):
    clip = first_300_kb(tmp_path)
    # max 0.2 s: the same reason found again is never said again, however often the backoff would allow it
    source = VideoFileSource(clip, loop=True, retry=True, reconnect_min_s=0.05, reconnect_max_s=0.2)
    frames = source.frames()
    seen = 0
    for _ in range(1000):  # the first pass ends short; the frame that shows it is the next pass's
        next(frames)
        seen += 1
        if source.status.outages:
            break
    assert source.status.outages == 1, "a pass that ended short was never reported"
    per_pass = seen - 1
    assert per_pass == decodable_frames(clip)
    for _ in range(3 * per_pass):  # three more passes, each ending short the same way
        next(frames)
    status = source.status
    assert (status.state, status.outages, status.reports, status.reconnects) == ("down", 1, 1, 0)
    assert f"ended after {per_pass} of its 300 frames" in status.last_error
    whole = tmp_path / "whole.mp4"
    shutil.copyfile(CLIP, whole)
    os.replace(whole, clip)  # mended: the pass under way reads the old file to its end, the next one is whole
    for _ in range(per_pass + 300 + 10):
        next(frames)
        if status.state == "up":
            break
    source.close()
    assert (status.state, status.outages, status.reconnects) == ("up", 1, 1)


def test_a_truncated_looping_file_is_one_error_event_in_the_service(tmp_path):
    clip = first_300_kb(tmp_path)
    per_pass = decodable_frames(clip)
    cfg = write_config(tmp_path / "c.toml", tasks={"pose": True}, source={"uri": str(clip), "loop": True})
    proc = subprocess.Popen([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg), "--print-events"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    hung = threading.Timer(120, proc.kill)  # a service that stops printing fails the test instead of hanging it
    hung.start()
    lines = []
    while len(lines) < 4 * per_pass:  # four passes of pose events (one a frame): an error event each, before
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        lines.append(line)
    hung.cancel()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in lines + out.splitlines()]
    errors = [e for e in events if e["event"] == "error"]
    assert len(errors) == 1 and f"ended after {per_pass} of its 300 frames" in errors[0]["message"], errors
    assert errors[0]["detail"]["outages"] == 1
    stats = [e for e in events if e["event"] == "stats"][-1]
    assert (stats["camera"]["state"], stats["camera"]["outages"], stats["camera"]["reconnects"]) == ("down", 1, 0)
    assert err.count("is down") == 1 and "is back" not in err


# -- cam2 item 2: OpenCV's own log stays quiet when a capture fails to open ----------------------------------------

def test_a_closed_stream_port_is_said_in_our_words_only(tmp_path):
    port = free_port()  # nothing listens on it
    cfg = write_config(tmp_path / "c.toml", source={"uri": f"rtsp://127.0.0.1:{port}/stream"}, tasks={"pose": True})
    r = run("doctor", "--config", cfg, timeout=120)
    assert f"cannot open camera rtsp://127.0.0.1:{port}/stream" in r.stdout, r.stdout
    assert "[ WARN" not in r.stderr and "capture by name" not in r.stderr, r.stderr
    assert "Connection refused" not in r.stderr, r.stderr  # FFmpeg's own line


def test_a_fifo_source_is_a_config_error_saying_it_is_a_fifo(tmp_path):
    fifo = tmp_path / "pipe.avi"
    os.mkfifo(fifo)  # the campaign's feedfifo.sh: it was retried for ever as "is not there"
    cfg = write_config(tmp_path / "c.toml", source={"uri": str(fifo)}, tasks={"pose": True})
    r = run("run", "--config", cfg, timeout=60)
    assert r.returncode == 78, r.stderr
    assert "source.uri" in r.stderr and "is a FIFO (named pipe)" in r.stderr and "Traceback" not in r.stderr
