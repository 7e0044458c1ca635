"""``[mqtt]`` parsing: strict, with errors naming the key path."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support.config import write_config
from support.pki import make_ca
from support.shared import MODELS, VIDEO
from edgeapp.errors import EXIT_CONFIG, ConfigError
from edgeapp.mqtt import MqttConfig
from edgeapp.settings import read


def test_defaults_follow_the_issue():
    c = read(MqttConfig, {}, "mqtt")
    assert (c.topic_prefix, c.qos, c.port, c.discovery, c.tls_check_hostname) == ("edgeapp", 1, 1883, False, True)
    assert c.device_id and c.effective_client_id == f"edgeapp-{c.device_id}"
    assert c.stats_interval >= 15


def test_a_full_table(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    ca = make_ca(tmp_path)  # a real one: config check opens it
    c = read(MqttConfig, {"host": "broker.lan", "port": 8883, "username": "pi", "password_file": str(pw),
                          "tls_ca": str(ca), "stats_interval": 15, "pose_rate": 5, "discovery": True}, "service.mqtt")
    assert c.use_tls and c.pose_rate == 5.0 and isinstance(c.pose_rate, float)
    assert c.password() == "s3cret"
    assert "s3cret" not in repr(c)  # never in a log line that prints the config


@pytest.mark.parametrize("table, path, words", [
    ({"prot": 1883}, "mqtt.prot", "unknown key"),
    ({"port": "1883"}, "mqtt.port", "whole number"),
    ({"port": 70000}, "mqtt.port", "1..65535"),
    ({"qos": True}, "mqtt.qos", "whole number"),
    ({"qos": 3}, "mqtt.qos", "0, 1 or 2"),
    ({"stats_interval": 5}, "mqtt.stats_interval", "15"),
    ({"pose_rate": -1}, "mqtt.pose_rate", "0..30"),
    ({"topic_prefix": "a/#"}, "mqtt.topic_prefix", "wildcards"),
    ({"device_id": "kitchen pi"}, "mqtt.device_id", "one topic level"),
    ({"tls_ca": "/no/such/ca.crt"}, "mqtt.tls_ca", "file not found"),
    ({"password_env": "EDGEAPP_TEST_NO_SUCH_VAR", "username": "u"}, "mqtt.password_env", "is not set"),
    ({"password_env": "HOME"}, "mqtt.username", "required"),
    ({"tls_check_hostname": False}, "mqtt.tls", "TLS is off"),
    ({"reconnect_min": 5, "reconnect_max": 1}, "mqtt.reconnect_max", "reconnect_min"),
    ({"discovery": "yes"}, "mqtt.discovery", "true or false"),
])
def test_bad_values_name_their_key_path(table, path, words):
    with pytest.raises(ConfigError, match=words) as err:
        read(MqttConfig, table, "mqtt")
    assert err.value.path == path
    assert err.value.exit_code == EXIT_CONFIG


def test_the_path_prefix_is_the_callers():
    with pytest.raises(ConfigError) as err:
        read(MqttConfig, {"port": 0}, "devices.pi1.mqtt")
    assert err.value.path == "devices.pi1.mqtt.port"


def test_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("EDGEAPP_TEST_MQTT_PW", "from-env")
    assert read(MqttConfig, {"username": "u", "password_env": "EDGEAPP_TEST_MQTT_PW"}, "mqtt").password() == "from-env"


@pytest.mark.parametrize("where", ["/dev/null", "fifo", "file/outbox.sqlite3"])
def test_an_outbox_path_that_cannot_hold_a_file_is_a_config_error(tmp_path, where):
    """/dev/null passed the check and then lost every event (and grew /dev/null.lock, -journal)."""
    fifo, plain = tmp_path / "fifo", tmp_path / "file"
    os.mkfifo(fifo)
    plain.write_text("x")
    path = where if where.startswith("/") else str(tmp_path / where)
    with pytest.raises(ConfigError, match="outbox|not a") as err:
        read(MqttConfig, {"outbox_path": path}, "mqtt")
    assert err.value.path == "mqtt.outbox_path"
    assert err.value.exit_code == EXIT_CONFIG


def test_a_new_or_existing_outbox_file_path_is_fine(tmp_path):
    (tmp_path / "old.sqlite3").write_bytes(b"")
    for name in ("old.sqlite3", "new/dir/outbox.sqlite3"):
        assert read(MqttConfig, {"outbox_path": str(tmp_path / name)}, "mqtt").outbox_path.endswith(name)


def test_config_check_refuses_dev_null_as_the_outbox(tmp_path):
    """The exploratory run: ``config check`` said OK, then every event went into /dev/null."""
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(VIDEO / "opencv_vtest_30s_h264.mp4")},
                       runtime={"models_dir": str(MODELS)}, mqtt={"host": "127.0.0.1", "outbox_path": "/dev/null"})
    r = subprocess.run([sys.executable, "-m", "edgeapp", "config", "check", str(cfg)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == EXIT_CONFIG, r.stdout + r.stderr
    assert "mqtt.outbox_path" in r.stderr and "Traceback" not in r.stderr
