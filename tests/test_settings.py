"""The one config reader: typed tables, key paths in every error, all errors at once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support.pki import make_ca
from edgeapp.config import OUTBOX_FILE, AppConfig
from edgeapp.errors import ConfigError
from edgeapp.settings import ConfigErrors, read

BAD = {
    "source": {"fps": -1, "uri": "", "rotate": 45},
    "tasks": {"track": True},
    "pantilt": {"pan": {"kp": "fast"}, "rig": "lego", "servo": {"pan_pin": 40}},
    "mqtt": {"port": 0, "qos": 3},
    "detect": {"treshold": 0.5},
    "bogus": {},
}
BAD_PATHS = {"source.fps", "source.uri", "source.rotate", "tasks.track", "pantilt.rig", "pantilt.pan.kp", "pantilt.servo.pan_pin",
             "mqtt.port", "mqtt.qos", "detect.treshold", "bogus"}


def test_every_error_is_reported_at_once_each_naming_its_key():
    with pytest.raises(ConfigErrors) as err:
        read(AppConfig, BAD)
    assert {e.path for e in err.value.errors} == BAD_PATHS
    text = str(err.value)
    assert text.startswith(f"{len(BAD_PATHS)} errors in the config:")
    assert "config pantilt.pan.kp: must be a number, got 'fast'" in text
    assert "config detect.treshold: unknown key; did you mean 'threshold'?" in text
    assert "config source.rotate: must be 0, 90, 180 or 270 (degrees clockwise), got 45" in text
    assert isinstance(err.value, ConfigError) and err.value.exit_code == 78


def test_one_error_reads_as_before():
    with pytest.raises(ConfigError) as err:
        read(AppConfig, {"source": {"fps": 0}})
    assert type(err.value) is ConfigError and str(err.value) == "config source.fps: must be in (0, 240], got 0.0"


def test_a_sub_table_keeps_its_fields_defaults():
    cfg = read(AppConfig, {"pantilt": {"tilt": {"kp": 0.3}}})
    assert (cfg.pantilt.tilt.kp, cfg.pantilt.tilt.max_angle, cfg.pantilt.tilt.fov_deg) == (0.3, 45.0, 48.8)
    assert cfg.pantilt.pan.max_angle == 80.0


def test_an_mqtt_table_turns_the_broker_on():
    assert not read(AppConfig, {}).mqtt.enabled
    assert read(AppConfig, {"mqtt": {}}).mqtt.enabled
    assert not read(AppConfig, {"mqtt": {"enabled": False}}).mqtt.enabled


def test_the_outbox_lives_in_the_state_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path / 'unit'}:{tmp_path / 'other'}")
    assert read(AppConfig, {"mqtt": {}}).mqtt.outbox_path == str(tmp_path / "unit" / OUTBOX_FILE)
    cfg = read(AppConfig, {"service": {"state_dir": str(tmp_path / "state")}, "mqtt": {}})
    assert cfg.mqtt.outbox_path == str(tmp_path / "state" / OUTBOX_FILE)
    placed = read(AppConfig, {"service": {"state_dir": str(tmp_path)}, "mqtt": {"outbox_path": "/srv/o.db"}})
    assert placed.mqtt.outbox_path == "/srv/o.db"
    monkeypatch.delenv("STATE_DIRECTORY")
    assert read(AppConfig, {"mqtt": {}}).mqtt.outbox_path == f"/var/lib/edgeapp/{OUTBOX_FILE}"


def test_config_check_lists_every_error_and_exits_78(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[source]\nfps = -1\nuri = ""\n[mqtt]\nport = 0\n[pantilt.pan]\nkp = "fast"\n'
                   '[classify.smoothing]\nkeypoint_beta = 636.61\n')  # a key that moved: never silently ignored
    r = subprocess.run([sys.executable, "-m", "edgeapp", "config", "check", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 78 and "Traceback" not in r.stderr
    for key in ("source.fps", "source.uri", "mqtt.port", "pantilt.pan.kp", "classify.smoothing.keypoint_beta"):
        assert f"config {key}:" in r.stderr
    assert "has moved to pose.smoothing.beta" in r.stderr


@pytest.mark.parametrize("uri, is_file", [
    ("picamera2", False), ("picamera2:1", False), ("0", False), ("/dev/video0", False), ("rtsp://cam/stream", False),
    ("clip.mp4", True), ("picamera2-clips", True), ("frames/", True),
])
def test_a_relative_source_uri_moves_exactly_when_the_source_would_read_it_as_a_file(tmp_path, uri, is_file):
    """One decision: resolve_paths moves the uri beside the config file only when the source chooser would open a
    file or folder there, not a camera."""
    from edgeapp.camera.live import is_device, is_stream, picamera_index
    from edgeapp.config import resolve_paths

    camera = picamera_index(uri) is not None or is_device(uri) or is_stream(uri)
    assert camera is not is_file
    moved = resolve_paths({"source": {"uri": uri}}, tmp_path)["source"]["uri"]
    assert moved == (os.path.normpath(tmp_path / uri) if is_file else uri)


def test_type_errors_do_not_hide_range_errors_elsewhere():
    """A wrong type is reported once and skips its own key's rules; every other key is still checked."""
    table = {"source": {"loop": "yes", "width": 640.5, "read_timeout_s": -1},
             "mqtt": {"keepalive": True, "host": "", "inflight": 0},
             "service": {"log_level": "loud", "drain_s": -1}}
    with pytest.raises(ConfigErrors) as err:
        read(AppConfig, table)
    messages = {e.path: e.message for e in err.value.errors}
    assert set(messages) == {"source.loop", "source.width", "source.read_timeout_s", "mqtt.keepalive", "mqtt.host",
                             "mqtt.inflight", "service.log_level", "service.drain_s"}
    assert messages["source.width"] == "must be a whole number, got 640.5"  # its range rule is skipped
    assert messages["mqtt.inflight"] == "must be at least 1, got 0"


def test_a_table_with_a_wrong_key_still_meets_the_cross_table_rules_of_its_other_keys():
    # pose.people = 3 without detection is a cross-table rule of AppConfig; pose.smart_crop's type is wrong
    with pytest.raises(ConfigErrors) as err:
        read(AppConfig, {"pose": {"smart_crop": "yes", "people": 3}})
    assert {e.path for e in err.value.errors} == {"pose.smart_crop", "pose.people"}


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_an_unreadable_password_file_is_one_error(tmp_path, kind):
    path = tmp_path / "pw"
    if kind == "folder":
        path.mkdir()
    with pytest.raises(ConfigError) as err:
        read(AppConfig, {"mqtt": {"host": "127.0.0.1", "username": "u", "password_file": str(path)}})
    assert not isinstance(err.value, ConfigErrors), err.value
    assert err.value.path == "mqtt.password_file" and str(path) in err.value.message
    assert ("No such file" if kind == "missing" else "Is a directory") in err.value.message


def test_a_tls_ca_that_is_no_certificate_is_refused_naming_the_key(tmp_path):
    not_a_ca = tmp_path / "config.toml"
    not_a_ca.write_text('[mqtt]\nhost = "127.0.0.1"\n')
    with pytest.raises(ConfigError) as err:
        read(AppConfig, {"mqtt": {"host": "127.0.0.1", "tls_ca": str(not_a_ca)}})
    assert err.value.path == "mqtt.tls_ca" and "not a PEM CA certificate" in err.value.message
    assert str(not_a_ca) in err.value.message
    ca = make_ca(tmp_path)
    assert read(AppConfig, {"mqtt": {"host": "127.0.0.1", "tls_ca": str(ca)}}).mqtt.tls_ca == str(ca)
