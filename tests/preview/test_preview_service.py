"""The preview with the real pipeline: in-process, and inside ``edgeapp run`` driven by headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.config import write_config
from support.shared import MODELS
from edgeapp.bench.mqtt import free_port
from edgeapp.config import AppConfig
from edgeapp.preview.server import PreviewServer
from edgeapp.service.pipeline import Pipeline
from edgeapp.settings import read

from .conftest import get, get_json, wait_until

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
APT_HINT = "apt-get install -y chromium chromium-driver"



def tables(clip: Path, port: int, **preview) -> dict:
    return {"source": {"uri": str(clip), "loop": True}, "tasks": {"pose": True, "classify": True},
            "runtime": {"models_dir": str(MODELS), "threads": 2},
            "preview": {"enabled": True, "port": port, **preview}}


class Discard:
    def publish(self, event) -> bool:
        return True


def test_healthz_follows_the_real_frame_loop(tree_clip):
    config = read(AppConfig, tables(tree_clip, 0, stall_s=1.0))
    pipeline = Pipeline(config, Discard())
    stop = threading.Event()
    loop = threading.Thread(target=pipeline.run, args=(stop,), daemon=True)
    with PreviewServer(config.preview, pipeline) as server:
        loop.start()
        wait_until(lambda: pipeline.stats.frames >= 5, 30, what="frames")
        assert get(server.url + "healthz")[0] == 200
        state = get_json(server.url + "state.json")[1]
        assert state["frames"] >= 5 and state["backend"] == "cpu"
        stop.set()
        loop.join(10)
        t0 = time.monotonic()
        wait_until(lambda: get(server.url + "healthz")[0] == 503, 5, what="503 once the loop stopped")
        assert time.monotonic() - t0 < 2.5
        assert get_json(server.url + "healthz")[1]["ok"] is False
    pipeline.close()


def test_run_refuses_an_exposed_preview_without_token(tmp_path, tree_clip):
    cfg = write_config(tmp_path / "config.toml", **tables(tree_clip, free_port(), host="0.0.0.0"))
    r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 78, r.stderr
    assert "config preview.token: required when host is not loopback" in r.stderr and "Traceback" not in r.stderr


def test_run_with_the_preview_port_taken_runs_without_it_and_says_so(tmp_path, tree_clip):
    with socket.socket() as busy:  # another program on the port (`python -m http.server PORT`)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = write_config(tmp_path / "config.toml", **tables(tree_clip, port))
        r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg), "--max-frames", "20",
                            "--print-events"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr  # not 1, and so no restart loop under systemd
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "runs without the preview" in r.stderr
    assert "Traceback" not in r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    errors = [e for e in events if e["event"] == "error" and e["source"] == "preview"]
    assert len(errors) == 1 and errors[0]["detail"]["port"] == port
    assert sum(e["event"] == "pose" for e in events) == 20  # the frames went on


# --- the service in a real browser --------------------------------------------------------

@pytest.fixture
def chromium(tmp_path):
    """Headless Debian Chromium through chromedriver. Missing is a failure, not a skip: CI installs it."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: {APT_HINT}", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1280,800", f"--user-data-dir={tmp_path / 'chrome'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


# The newest frame of the page's <img> drawn to a canvas and hashed: it changes when the stream moves.
FRAME_HASH = """
const img = document.getElementById('stream');
if (!img.complete || !img.naturalWidth) return null;
const c = document.createElement('canvas'); c.width = 96; c.height = 96;
const g = c.getContext('2d'); g.drawImage(img, 0, 0, 96, 96);
const d = g.getImageData(0, 0, 96, 96).data; let h = 0;
for (let i = 0; i < d.length; i++) h = (Math.imul(h, 31) + d[i]) >>> 0;
return h;
"""


def metric(url: str, name: str) -> float:
    status, body, _ = get(url + "metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    return families[name].samples[0].value


@pytest.mark.browser
def test_kiosk_page_in_chromium_shows_the_pose_of_the_events(tmp_path, tree_clip, chromium):
    port = free_port()
    cfg = write_config(tmp_path / "config.toml", **tables(tree_clip, port))
    events = tmp_path / "events.jsonl"
    # stdout to a file: a pipe nobody reads would fill and block the frame loop.
    with events.open("w") as out, (tmp_path / "stderr.txt").open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg), "--print-events"],
                                stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: _up(base), 60, what="the preview answering")
        wait_until(lambda: get_json(base + "state.json")[1]["pose"]["label"], 30, what="a held pose")
        assert get(base + "healthz")[0] == 200
        # Running, classifying, serving state and metrics, and not one frame drawn: nobody watches yet.
        assert metric(base, "edgeapp_preview_frames_rendered") == 0

        chromium.get(base)
        label = wait_until(lambda: chromium.find_element("id", "label").get_attribute("data-label"), 20,
                           what="a pose label on the page")
        first = wait_until(lambda: chromium.execute_script(FRAME_HASH), 20, what="a frame on the page")
        wait_until(lambda: chromium.execute_script(FRAME_HASH) not in (None, first), 20, what="the frame to change")
        hold = chromium.find_element("id", "hold").text
        assert hold.startswith("held ") and hold.endswith(" s")
        assert chromium.find_element("id", "backend").text.startswith("cpu")
        shot = tmp_path / "kiosk.png"
        assert chromium.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("EDGEAPP_SCREENSHOT"):  # keep one to look at
            shutil.copy(shot, os.environ["EDGEAPP_SCREENSHOT"])
        assert metric(base, "edgeapp_preview_viewers") == 1 and metric(base, "edgeapp_preview_frames_rendered") > 0
        # The label on screen is the held pose; the events must say the same.
        assert label == chromium.find_element("id", "label").text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, (tmp_path / "stderr.txt").read_text()
    lines = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    started = [e["label"] for e in lines if e["event"] == "pose_class" and e["type"] == "started"]
    assert started and started[-1] == label == "tree", (started, label)
    assert not _up(base), "the preview stops with the service"


def _up(base: str) -> bool:
    try:
        return get(base + "healthz", timeout=1)[0] == 200
    except OSError:
        return False


def test_bench_preview_measures_both_phases(tree_clip):
    from edgeapp.bench.preview import bench_preview

    r = bench_preview(tree_clip, str(MODELS), seconds=0.7, rounds=1, warmup_s=0.5)
    without, with_viewer = r["phases"]
    assert not without["viewer"] and without["preview_fps"] == 0 and without["fps"] > 0
    # The cap, not the rate: a loaded machine may deliver nothing in a 0.7 s window, and the first frames may come
    # as a burst of two beyond the steady rate.
    assert with_viewer["viewer"] and 0 <= with_viewer["received_fps"] <= r["max_fps"] + 2 / 0.7 and with_viewer["fps"] > 0
    assert r["fps_without_viewer"] > 0 and r["fps_with_viewer"] > 0 and r["render_ms_per_frame"] > 0
