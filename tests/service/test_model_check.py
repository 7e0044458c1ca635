"""A model or labels file the config names that cannot be used is a config error naming its key: the same
for `edgeapp config check` (exit 78 before a start), `edgeapp run` (exit 78, not 2 with no key) and doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from support.config import write_config
from support.shared import MODELS, VIDEO
from edgeapp.bench.mqtt import LocalMosquitto
from edgeapp.config import load_config
from edgeapp.errors import EXIT_CONFIG
from edgeapp.errors import ConfigError
from edgeapp.registry import Registry
from edgeapp.runtime import litert
from edgeapp.service.doctor import check_models as doctor_models
from edgeapp.service.model_check import check_models
from edgeapp.service.runner import run_service

CLIP = VIDEO / "opencv_vtest_30s_h264.mp4"


def edgeapp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeapp", *args], capture_output=True, text=True, timeout=120)


def config(tmp_path: Path, classify: dict | None = None, runtime: dict | None = None, pose: dict | None = None,
           tasks: dict | None = None, **tables) -> Path:
    return write_config(tmp_path / "config.toml", source={"uri": str(CLIP)},
                        tasks=tasks or {"pose": True, "classify": True},
                        runtime=runtime or {"models_dir": str(MODELS)}, pose=pose or {},
                        classify=classify or {}, service={"state_dir": str(tmp_path / "state")}, **tables)


def bad_configs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each fault, its config and the key its error must name."""
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(os.urandom(4096))
    seven = tmp_path / "labels7.txt"
    seven.write_text("".join(f"pose{i}\n" for i in range(7)))  # the shipped classifier has 5 outputs
    other = tmp_path / "other"
    other.mkdir()
    return {
        "missing model": (config(other, classify={"model": str(tmp_path / "missing.tflite")}), "classify.model"),
        "not a tflite": (config(tmp_path, classify={"model": str(garbage)}), "classify.model"),
        "labels count": (config(_dir(tmp_path, "a"),
                                classify={"model": "yoga-classifier", "labels": str(seven)}), "classify.labels"),
        "missing labels": (config(_dir(tmp_path, "b"), classify={"labels": str(tmp_path / "nolabels.txt")}),
                           "classify.labels"),
        "missing models_dir": (config(_dir(tmp_path, "c"), runtime={"models_dir": str(tmp_path / "nomodels")}),
                               "runtime.models_dir"),
        "not installed": (config(_dir(tmp_path, "d"), pose={"model": "movenet-thunder-int8"}), "pose.model"),
    }


def _dir(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir(exist_ok=True)
    return tmp_path / name


@pytest.fixture
def faults(tmp_path):
    configs = bad_configs(tmp_path)
    if Registry(MODELS).path("movenet-thunder-int8").exists():  # that case needs it absent; the others still run
        del configs["not installed"]
    return configs


@pytest.fixture
def opened(monkeypatch) -> Counter:
    """How many interpreters were made of each model file: the real ones, counted on the way."""
    counts: Counter = Counter()
    real = litert.Interpreter

    def counted(*args, model_path: str, **kwargs):
        counts[Path(model_path).name] += 1
        return real(*args, model_path=model_path, **kwargs)

    monkeypatch.setattr(litert, "Interpreter", counted)
    return counts


def test_config_check_finds_each_model_fault_naming_the_key(faults):
    for what, (cfg, key) in faults.items():
        r = edgeapp("config", "check", str(cfg))
        assert r.returncode == EXIT_CONFIG, (what, r.stdout, r.stderr)
        assert f"config {key}:" in r.stderr and "Traceback" not in r.stderr, (what, r.stderr)


def test_doctor_rows_are_the_same_check(faults):
    for what, (cfg, key) in faults.items():
        rows = check_models(load_config(cfg))
        problems = [r.problem for r in rows if r.problem is not None]
        assert [p.path for p in problems] == [key], what
        failed = [c for c in doctor_models(load_config(cfg)) if c.failed]
        assert [c.detail for c in failed] == [str(problems[0])], what


def test_config_check_passes_the_shipped_models(tmp_path):
    cfg = config(tmp_path, tasks={"pose": True, "classify": True, "detect": True})
    r = edgeapp("config", "check", str(cfg))
    assert r.returncode == 0 and ": ok" in r.stdout, r.stderr


@pytest.mark.parametrize("what", ["missing model", "labels count", "missing models_dir"])
def test_run_refuses_a_model_fault_with_exit_78_naming_the_key(faults, what):
    cfg, key = faults[what]
    r = edgeapp("run", "--config", str(cfg), "--max-frames", "1")
    assert r.returncode == EXIT_CONFIG, r.stderr
    assert f"config {key}:" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_run_refused_for_a_model_tells_the_broker_why_and_never_says_online(tmp_path):
    """A device that never starts says error, then stopped: never online, not even for a moment (a dashboard
    or an automation would take it for up), and the retained state a newcomer reads is stopped."""
    broker = LocalMosquitto(tmp_path / "broker").start()
    try:
        cfg = config(tmp_path, classify={"model": str(tmp_path / "missing.tflite")},
                     mqtt={"host": "127.0.0.1", "port": broker.port, "device_id": "kiosk-9",
                           "outbox_path": str(tmp_path / "outbox.sqlite3")})
        received = tmp_path / "sub.txt"
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "edgeapp/#", "-v"],
                               stdout=received.open("w"), stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)  # subscribed before the device says anything
            r = edgeapp("run", "--config", str(cfg))
            time.sleep(0.5)
        finally:
            sub.terminate()
            sub.wait()
        retained = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-C", "1", "-W", "5",
                                   "-t", "edgeapp/kiosk-9/available"], capture_output=True, text=True, timeout=30)
    finally:
        broker.stop()
    assert r.returncode == EXIT_CONFIG, r.stderr
    lines = received.read_text().splitlines()
    errors = [json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("edgeapp/kiosk-9/events/error ")]
    assert [e["detail"]["keys"] for e in errors] == [["classify.model"]], lines
    assert "missing.tflite" in errors[0]["message"]
    said = [line.split(" ", 1) for line in lines if line.startswith(("edgeapp/kiosk-9/available ",
                                                                     "edgeapp/kiosk-9/events/error "))]
    assert [payload if topic.endswith("available") else "error" for topic, payload in said] == ["error", "stopped"], lines
    assert retained.stdout.strip() == "stopped"


def test_the_check_opens_each_model_once(tmp_path, opened):
    rows = check_models(load_config(config(tmp_path, tasks={"pose": True, "classify": True, "detect": True})))
    assert [r.problem for r in rows] == [None] * 3
    assert len(opened) == 3 and set(opened.values()) == {1}, opened


def test_a_refused_start_opens_each_model_once(tmp_path, opened):
    """The pose model loads, the classifier's labels do not fit it: the start names classify.labels having opened
    each of the two once, and never the detector's, which it did not reach (nothing is opened again to find
    the key)."""
    seven = tmp_path / "labels7.txt"
    seven.write_text("".join(f"pose{i}\n" for i in range(7)))  # the shipped classifier has 5 outputs
    cfg = config(tmp_path, tasks={"pose": True, "classify": True, "detect": True},
                 classify={"model": "yoga-classifier", "labels": str(seven)})
    with pytest.raises(ConfigError) as refused:
        run_service(load_config(cfg))
    assert refused.value.path == "classify.labels"
    assert len(opened) == 2 and set(opened.values()) == {1}, opened


def test_run_refused_with_the_broker_away_still_exits_naming_the_key(tmp_path):
    cfg = config(tmp_path, classify={"model": str(tmp_path / "missing.tflite")},
                 mqtt={"host": "127.0.0.1", "port": 9, "outbox_path": str(tmp_path / "outbox.sqlite3")})
    r = edgeapp("run", "--config", str(cfg))
    assert r.returncode == EXIT_CONFIG and "config classify.model:" in r.stderr, r.stderr
