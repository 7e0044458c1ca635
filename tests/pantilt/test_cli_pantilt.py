"""``edgeapp pantilt test`` as an installer runs it."""

from __future__ import annotations

import json
import subprocess
import sys


def edgeapp(*args):
    return subprocess.run([sys.executable, "-m", "edgeapp", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_pantilt_test_on_the_sim_rig():
    r = edgeapp("pantilt", "test", "--rig", "sim", "--dwell", "0", "--speed", "2000", "--json")
    assert r.returncode == 0, r.stderr
    steps = lines(r.stdout)
    assert [s["step"] for s in steps] == ["home", "pan min", "pan max", "tilt min", "tilt max", "centre"]
    assert steps[1]["position"] == [-80.0, 0.0] and "LEFT" in steps[1]["expect"]
    assert steps[4]["position"] == [0.0, 45.0] and "DOWN" in steps[4]["expect"]
    assert all(s["write_errors"] == 0 and s["rejected"] == 0 for s in steps)


def test_pantilt_test_on_mock_servo_pins_with_a_config(tmp_path):
    cfg = tmp_path / "edgeapp.toml"
    cfg.write_text('[pantilt]\nrig = "servo"\n[pantilt.pan]\ninvert = true\nmin_angle = -30.0\n'
                   '[pantilt.tilt]\nenabled = false\n[pantilt.servo]\npin_factory = "mock"\n')
    r = edgeapp("pantilt", "test", "--config", cfg, "--dwell", "0", "--speed", "2000")
    assert r.returncode == 0, r.stderr
    assert "pan min   pan  -30.0" in r.stdout and "the view should turn RIGHT" in r.stdout
    assert "tilt min" not in r.stdout


def test_pantilt_test_config_errors():
    r = edgeapp("pantilt", "test")
    assert r.returncode == 78 and "pantilt.rig" in r.stderr


def test_pantilt_test_reads_a_config_with_a_bom_and_refuses_latin1_naming_the_file(tmp_path):
    cfg = tmp_path / "edgeapp.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + b'[pantilt]\nrig = "sim"\n')  # a Windows editor's byte-order mark
    r = edgeapp("pantilt", "test", "--config", cfg, "--dwell", "0", "--speed", "2000", "--json")
    assert r.returncode == 0, r.stderr
    cfg.write_bytes('# K\xfcche\n[pantilt]\nrig = "sim"\n'.encode("latin-1"))
    r = edgeapp("pantilt", "test", "--config", cfg, "--dwell", "0")
    assert r.returncode == 78 and str(cfg) in r.stderr and "not UTF-8" in r.stderr and "Traceback" not in r.stderr
