"""The shipped unit under real systemd (PID 1 in a Debian bookworm container): the MQTT password as a systemd
credential only the service reads, READY, watchdog, no restart loop on a bad config, and a clean stop that
publishes ``stopped``."""

from __future__ import annotations

import time

import pytest

from support.shared import MODELS, REPO, VIDEO
from infra.fixtures import debian_image, docker_daemon, systemd_container_factory, wheelhouse  # noqa: F401

pytestmark = pytest.mark.container

CONFIG = """
[source]
uri = "/opt/edgeapp/clip.mp4"
loop = true

[tasks]
pose = true
classify = true

[mqtt]
host = "127.0.0.1"
port = 1883
device_id = "box"
stats_interval = 15.0
username = "box"
password_credential = "edgeapp-mqtt-password"
"""
PASSWORD = "pw-only-the-service-reads"
BROKER = """listener 1883 127.0.0.1
allow_anonymous false
password_file /etc/mosquitto/passwd
"""
SUB = "mosquitto_sub -h 127.0.0.1 -u box -P " + PASSWORD


@pytest.fixture(scope="module")
def device(systemd_container_factory, wheelhouse):
    c = systemd_container_factory()
    c.copy_to(wheelhouse, "/tmp/wheelhouse")
    c.sh("python3 -m venv /opt/edgeapp/releases/test"
         " && /opt/edgeapp/releases/test/bin/pip install -q --no-index --find-links /tmp/wheelhouse edgeapp"
         " && ln -sfn /opt/edgeapp/releases/test /opt/edgeapp/current")
    c.sh("for g in video gpio i2c plugdev; do getent group $g >/dev/null || groupadd --system $g; done;"
         " useradd --system --home-dir /var/lib/edgeapp --shell /usr/sbin/nologin edgeapp")
    c.sh("mkdir -p /var/lib/edgeapp/models/movenet /var/lib/edgeapp/models/classifier /etc/edgeapp")
    for sub in ("movenet/movenet_single_pose_lightning_ptq.tflite", "classifier/yoga_classifier.tflite",
                "classifier/labels.txt"):
        c.copy_to(MODELS / sub, f"/var/lib/edgeapp/models/{sub}")
    c.copy_to(VIDEO / "carving_ice.mp4", "/opt/edgeapp/clip.mp4")
    c.write_file("/etc/edgeapp/config.toml", CONFIG)
    # as the Ansible role does it: root-only on disk, handed to the service by the unit's LoadCredential=
    c.sh("install -d -m 0700 /etc/credstore")
    c.write_file("/etc/credstore/edgeapp-mqtt-password", PASSWORD + "\n", mode=0o600)
    c.write_file("/etc/mosquitto/conf.d/edgeapp-test.conf", BROKER)
    c.sh(f"mosquitto_passwd -b -c /etc/mosquitto/passwd box {PASSWORD} && chown mosquitto /etc/mosquitto/passwd")
    c.copy_to(REPO / "systemd" / "edgeapp.service", "/etc/systemd/system/edgeapp.service")
    c.sh("chown -R edgeapp:edgeapp /var/lib/edgeapp && systemctl daemon-reload && systemctl enable --now mosquitto")
    return c


def state(c) -> dict[str, str]:
    return c.show("edgeapp.service", "ActiveState", "SubState", "NRestarts", "MainPID", "ExecMainStatus", "StatusText")


def wait_state(c, active: str, timeout: float = 90.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = state(c)
        if s["ActiveState"] == active:
            return s
        time.sleep(0.2)
    raise AssertionError(f"edgeapp.service never became {active}: {state(c)}\n{c.journal('edgeapp.service')}")


def test_unit_verifies_where_it_is_installed(device):
    r = device.exec(["systemd-analyze", "verify", "/etc/systemd/system/edgeapp.service"], check=False)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def test_the_password_credential_is_for_the_service_alone(device):
    device.systemctl("start", "edgeapp.service")
    wait_state(device, "active")
    assert device.exec(["runuser", "-u", "edgeapp", "--", "cat", "/etc/credstore/edgeapp-mqtt-password"],
                       check=False).returncode != 0  # not readable by the service user outside the unit
    listing = device.sh("ls -ln /run/credentials/edgeapp.service")  # systemd's ramfs for this unit alone
    uid = device.sh("id -u edgeapp")
    assert f" {uid} " in listing and "edgeapp-mqtt-password" in listing and "-r--------" in listing, listing
    assert device.sh(f"{SUB} -t edgeapp/box/available -C 1 -W 30") == "online"  # logged in with it
    device.systemctl("stop", "edgeapp.service")


def test_active_only_after_ready_on_the_first_frame(device):
    device.systemctl("start", "--no-block", "edgeapp.service")
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        s = state(device)["ActiveState"]
        if not seen or seen[-1] != s:
            seen.append(s)
        if s in ("active", "failed"):
            break
        time.sleep(0.05)
    assert seen[-1] == "active", f"{seen}\n{device.journal('edgeapp.service')}"
    assert "activating" in seen  # loading models and reading a first frame came before READY
    journal = device.journal("edgeapp.service")
    assert "ready (first frame) after" in journal
    s = state(device)
    assert "fps" in s["StatusText"] and "backend cpu" in s["StatusText"]
    assert device.sh(f"ps -o user= -p {s['MainPID']}").strip() == "edgeapp"
    events = device.sh(f"{SUB} -t 'edgeapp/box/events/#' -C 3 -W 30")
    assert events.count('"device":"box"') == 3


def test_watchdog_restarts_a_hung_pipeline(device):
    # A shorter watchdog for the test; the mechanism is the shipped one (pings from the frame loop).
    device.write_file("/etc/systemd/system/edgeapp.service.d/test-watchdog.conf",
                      "[Service]\nWatchdogSec=4\nTimeoutAbortSec=3\n")
    device.sh("systemctl daemon-reload && systemctl restart edgeapp.service")
    before = wait_state(device, "active")
    device.sh(f"kill -STOP {before['MainPID']}")  # the whole process freezes, like a wedged Edge TPU call
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        s = state(device)
        if int(s["NRestarts"]) > int(before["NRestarts"]) and s["ActiveState"] == "active":
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no restart: {state(device)}\n{device.journal('edgeapp.service')}")
    assert s["MainPID"] != before["MainPID"]
    assert "Watchdog timeout" in device.journal("edgeapp.service", lines=400)
    device.sh("rm /etc/systemd/system/edgeapp.service.d/test-watchdog.conf && systemctl daemon-reload")


def test_bad_config_is_not_restarted_in_a_loop(device):
    good = device.read_file("/etc/edgeapp/config.toml")
    device.write_file("/etc/edgeapp/config.toml", good.replace("loop = true", "loop = true\nfps = -1"))
    device.systemctl("restart", "edgeapp.service", check=False)  # a manual restart resets NRestarts
    restarts = int(wait_state(device, "failed", timeout=60)["NRestarts"])
    time.sleep(7)  # longer than RestartSec=5: a restart would have happened by now
    s = state(device)
    assert s["ActiveState"] == "failed" and s["ExecMainStatus"] == "78"
    assert int(s["NRestarts"]) == restarts
    assert "config source.fps" in device.journal("edgeapp.service")
    device.write_file("/etc/edgeapp/config.toml", good)
    device.sh("systemctl reset-failed edgeapp.service && systemctl start edgeapp.service")
    wait_state(device, "active")


def test_stop_is_clean_and_publishes_stopped(device):
    wait_state(device, "active")
    device.systemctl("stop", "edgeapp.service")
    s = state(device)
    assert s["ActiveState"] == "inactive", s  # not "failed": SIGTERM drained and exited 0
    assert device.sh(f"{SUB} -t edgeapp/box/available -C 1 -W 10").strip() == "stopped"
    assert "stopped after" in device.journal("edgeapp.service")
