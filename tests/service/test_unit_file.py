"""The shipped systemd unit and udev rule, checked by systemd's own tools."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.shared import REPO

UNIT = REPO / "systemd" / "edgeapp.service"
RULES = REPO / "systemd" / "99-edgeapp-coral.rules"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def installed_copy(tmp_path: Path) -> Path:
    """The unit as shipped, but with ExecStart pointing at this venv's edgeapp: verify checks that
    the binary exists, and /opt/edgeapp/current is only there on a device."""
    exe = Path(sys.executable).with_name("edgeapp")
    text = UNIT.read_text().replace("/opt/edgeapp/current/bin/edgeapp", str(exe))
    assert text != UNIT.read_text()
    unit = tmp_path / "edgeapp.service"
    unit.write_text(text)
    return unit


def test_verify_passes_with_empty_stderr(tmp_path):
    r = subprocess.run(["systemd-analyze", "verify", str(installed_copy(tmp_path))], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_security_exposure_is_at_most_4(tmp_path):
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=40", str(installed_copy(tmp_path))],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for edgeapp.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout[-500:]
    exposure = float(m.group(1))
    print(f"systemd-analyze security exposure: {exposure}")
    assert exposure <= 4.0


def test_unit_has_the_service_contract():
    text = UNIT.read_text()
    for line in ["Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartPreventExitStatus=78",
                 "SupplementaryGroups=video gpio i2c plugdev", "StateDirectory=edgeapp", "ProtectSystem=strict",
                 "ProtectHome=true", "PrivateTmp=true", "NoNewPrivileges=true", "DevicePolicy=closed",
                 "LimitNOFILE=8192", "LoadCredential=edgeapp-mqtt-password", "LoadCredential=edgeapp-preview-token"]:
        assert line in text, line
    allowed = re.findall(r"^DeviceAllow=(\S+)", text, re.M)
    assert set(allowed) >= {"char-video4linux", "char-i2c", "char-gpiochip", "char-usb_device", "char-apex"}


def test_udev_rule_covers_both_coral_usb_ids():
    text = RULES.read_text()
    assert 'ATTRS{idVendor}=="1a6e", ATTRS{idProduct}=="089a"' in text
    assert 'ATTRS{idVendor}=="18d1", ATTRS{idProduct}=="9302"' in text
    assert text.count('GROUP="plugdev"') == 3


def test_unit_timeouts_fit_the_service_s_own():
    """The stall watchdog (no systemd) and WatchdogSec agree; a stop's flush fits in TimeoutStopSec; the start
    timeout is for loading, since READY does not wait for a camera that is down."""
    from edgeapp.config import load_config

    seconds = {k: float(v) for k, v in re.findall(r"^(Timeout\w+Sec|WatchdogSec)=(\d+)$", UNIT.read_text(), re.M)}
    service = load_config(UNIT.parent / "config.example.toml").service
    assert service.stall_timeout_s <= seconds["WatchdogSec"]
    assert service.drain_s + 5 + 10 < seconds["TimeoutStopSec"]  # + the preview's close + saying `stopped`
    assert seconds["TimeoutStartSec"] > seconds["WatchdogSec"]
