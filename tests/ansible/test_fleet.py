"""The fleet playbook for real: lint, syntax, converge on fresh bookworm systemd containers, idempotence, the
service publishing to the provisioned hub with per-device credentials, the ACL, the kiosk screen set up on the device in
the [kiosk] group, and a broken release rolled back.

One hub and two device containers serve the whole module (see conftest.py); the tests run in file order.
"""

from __future__ import annotations

import shlex
import subprocess
import threading

import pytest
from fleetlib import ANSIBLE_DIR, KIOSK, Fleet, holds_listener, tool

pytestmark = pytest.mark.container

CA = "/etc/mosquitto/certs/ca.crt"
PREFIX = "edgeapp"


def mqtt(fleet: Fleet, tool_name: str, user: str, *args: str, password: str | None = None, check: bool = False):
    """mosquitto_pub/sub on the hub (the devices share its loopback), over TLS, as ``user``."""
    pw = password if password is not None else fleet.password(user)
    cmd = [tool_name, "-h", "localhost", "-p", "8883", "--cafile", CA, "-u", user, "-P", pw, *args]
    return fleet.containers["hub"].exec(cmd, check=check, timeout=60)


def test_ansible_lint_production_profile():
    proc = subprocess.run([tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor"],
                          cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_syntax_check():
    proc = subprocess.run([tool("ansible-playbook"), "-i", "inventory.example.ini", "site.yml", "--syntax-check"],
                          cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=120,
                          env={"ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_converge(fleet, converged):
    recap = converged.recap()
    assert set(recap) == {"hub", "edge-01", "edge-02"}, converged.output[-3000:]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap
    print(f"converge: {converged.seconds:.0f}s {recap}")


def test_second_run_changes_nothing(fleet, converged):
    run = fleet.playbook("-e", '{"edgeapp_serial": "100%"}')
    assert run.rc == 0, run.output[-6000:]
    recap = run.recap()
    changed = {host: r["changed"] for host, r in recap.items() if r["changed"]}
    assert not changed, f"not idempotent: {changed}; see {run.log}\n" + "\n".join(
        line for line in run.output.splitlines() if line.startswith("changed:"))
    print(f"second run: {run.seconds:.0f}s {recap}")


@pytest.mark.parametrize("device", ["edge-01", "edge-02"])
def test_service_active_on_current_release(fleet, converged, device):
    c = fleet.containers[device]
    assert c.is_active("edgeapp") == "active", c.journal("edgeapp")
    props = c.show("edgeapp", "Type", "User", "NRestarts", "MainPID")
    assert props["Type"] == "notify" and props["User"] == "edgeapp", props
    release = c.sh("readlink /opt/edgeapp/current")
    assert release.startswith("releases/"), release
    assert c.sh("cat /opt/edgeapp/current/.installed") == release.split("/", 1)[1]
    # the process is the release's venv, running as edgeapp with the device groups
    cmdline = c.sh(f"tr '\\0' ' ' < /proc/{props['MainPID']}/cmdline")
    assert "/opt/edgeapp/current/bin/edgeapp run --config /etc/edgeapp/config.toml" in cmdline, cmdline
    groups = set(c.sh("id -nG edgeapp").split())
    assert {"video", "gpio", "i2c", "plugdev"} <= groups, groups
    config = c.read_file("/etc/edgeapp/config.toml")
    assert f'device_id = "{device}"' in config and f'username = "{device}"' in config, config
    # The password is a systemd credential: root-only on disk, in $CREDENTIALS_DIRECTORY for the service alone.
    assert c.sh("stat -c '%U:%G %a' /etc/credstore /etc/credstore/edgeapp-mqtt-password") == "root:root 700\nroot:root 600"
    assert c.sh("cat /etc/credstore/edgeapp-mqtt-password") == fleet.password(device)
    assert c.exec("test -e /etc/edgeapp/mqtt-password", check=False).returncode == 1
    assert 'password_credential = "edgeapp-mqtt-password"' in config, config
    check = c.sh("EDGEAPP_MODELS_DIR=/opt/edgeapp/models /opt/edgeapp/current/bin/edgeapp config check "
                 "/etc/edgeapp/config.toml")  # the check opens the models: where the unit's drop-in says they are
    assert check.endswith("mqtt on)"), check
    # models pushed from the controller's cache, checked by the release itself
    verify = c.exec("EDGEAPP_MODELS_DIR=/opt/edgeapp/models /opt/edgeapp/current/bin/edgeapp models verify "
                    "movenet-lightning-int8 yoga-classifier", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize("device", ["edge-01", "edge-02"])
def test_device_publishes_to_hub_with_its_credentials(fleet, converged, device):
    topic = f"{PREFIX}/{device}/available"
    proc = mqtt(fleet, "mosquitto_sub", "monitor", "-t", topic, "-C", "1", "-W", "20")
    assert proc.returncode == 0 and proc.stdout.strip() == "online", proc.stdout + proc.stderr
    # and events keep flowing under the device's prefix (the retained availability aside)
    proc = mqtt(fleet, "mosquitto_sub", "monitor", "-t", f"{PREFIX}/{device}/#", "-v", "-R", "-C", "1", "-W", "90")
    assert proc.returncode == 0 and proc.stdout.startswith(f"{PREFIX}/{device}/"), proc.stdout + proc.stderr
    # the broker knows this device by its own account
    conf = fleet.containers["hub"].read_file("/etc/mosquitto/edgeapp.passwd")
    assert f"\n{device}:$7$" in "\n" + conf


def test_coral_runtime_only_where_asked(fleet, converged):
    assert "install ok installed" in fleet.containers["edge-02"].sh("dpkg-query -W -f '${Status}' libedgetpu1-std")
    assert fleet.containers["edge-01"].exec(["dpkg-query", "-W", "libedgetpu1-std"], check=False).returncode != 0
    # the udev rule for the USB ids is on every device (a Coral may be plugged in later)
    for device in ("edge-01", "edge-02"):
        rules = fleet.containers[device].read_file("/etc/udev/rules.d/99-edgeapp-coral.rules")
        assert "1a6e" in rules and "18d1" in rules


def test_kiosk_unit_user_and_boot_target(fleet, converged):
    kiosk, plain = fleet.containers[KIOSK], fleet.containers["edge-01"]
    # verify insists that ExecStart's binary exists, and the test sets up the kiosk without its packages: a stand-in
    # cage, for the verify only
    kiosk.write_file("/usr/bin/cage", "#!/bin/sh\nexit 1\n", mode=0o755)
    try:
        verify = kiosk.exec(["systemd-analyze", "verify", "edgeapp-kiosk.service"], check=False)
    finally:
        kiosk.exec(["rm", "-f", "/usr/bin/cage"])
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stdout + verify.stderr
    props = kiosk.show("edgeapp-kiosk", "ExecStart", "User", "PAMName", "TTYPath", "StandardInput", "Restart",
                       "Wants", "After", "WantedBy", "UnitFileState")
    assert ("argv[]=/usr/bin/cage -- chromium --kiosk --noerrdialogs --disable-infobars --no-first-run --incognito "
            "--ozone-platform=wayland http://127.0.0.1:8080/ ;") in props["ExecStart"], props["ExecStart"]
    assert (props["User"], props["PAMName"], props["TTYPath"], props["StandardInput"], props["Restart"]) == \
        ("edgeapp-kiosk", "edgeapp-kiosk", "/dev/tty7", "tty-fail", "always"), props
    assert "edgeapp.service" in props["Wants"].split() and "edgeapp.service" in props["After"].split(), props
    assert props["UnitFileState"] == "enabled" and "graphical.target" in props["WantedBy"].split(), props
    assert "pam_systemd.so" in kiosk.read_file("/etc/pam.d/edgeapp-kiosk")
    # booting to the screen; the plain device keeps the multi-user target conftest.py gave both
    assert kiosk.sh("systemctl get-default") == "graphical.target"
    assert plain.sh("systemctl get-default") == "multi-user.target"
    # an unprivileged user with a home for Chromium's profile, in those of video, render, input that exist here
    user = kiosk.sh("getent passwd edgeapp-kiosk").split(":")
    assert user[5:] == ["/var/lib/edgeapp-kiosk", "/usr/sbin/nologin"] and int(user[2]) < 1000, user
    assert kiosk.sh("stat -c %U /var/lib/edgeapp-kiosk") == "edgeapp-kiosk"
    existing = {g for g in ("video", "render", "input") if kiosk.exec(["getent", "group", g], check=False).stdout}
    assert "video" in existing  # the edgeapp role makes it; render and input come with udev, which containers lack
    assert set(kiosk.sh("id -nG edgeapp-kiosk").split()) == {"edgeapp-kiosk", *existing}
    # nothing of it on the plain device
    assert plain.exec(["systemctl", "cat", "edgeapp-kiosk"], check=False).returncode != 0
    assert plain.exec(["getent", "passwd", "edgeapp-kiosk"], check=False).returncode != 0


def test_kiosk_preview_on_loopback_only_there(fleet, converged):
    kiosk, plain = fleet.containers[KIOSK], fleet.containers["edge-01"]
    config = kiosk.read_file("/etc/edgeapp/config.toml")
    assert '[preview]\nenabled = true\nhost = "127.0.0.1"\nport = 8080\n' in config, config
    assert "[preview]" not in plain.read_file("/etc/edgeapp/config.toml")
    get = ("import sys, urllib.request as u; r = u.urlopen('http://127.0.0.1:8080' + sys.argv[1], timeout=10); "
           "print(r.status, r.headers.get_content_type(), r.read().decode()[:200])")
    health = kiosk.exec(["python3", "-c", get, "/healthz"], check=False)
    assert health.stdout.startswith('200 application/json {"ok": true'), health.stdout + health.stderr
    page = kiosk.sh(f"python3 -c {shlex.quote(get)} /")
    assert page.startswith("200 text/html"), page
    # The devices share the hub's loopback, so 127.0.0.1:8080 answers on edge-01 too: what tells them apart is
    # which edgeapp holds the listening socket.
    assert holds_listener(kiosk, "edgeapp", 8080) == (1, 1)
    assert holds_listener(plain, "edgeapp", 8080) == (1, 0)


def test_wrong_password_is_refused(fleet, converged):
    proc = mqtt(fleet, "mosquitto_pub", "edge-01", "-t", f"{PREFIX}/edge-01/x", "-m", "x", password="wrong")
    assert proc.returncode != 0
    assert "not authori" in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr


def test_acl_keeps_each_device_to_its_own_topics(fleet, converged):
    hub = fleet.containers["hub"]
    got: dict[str, subprocess.CompletedProcess] = {}

    def sub(name: str, user: str, topic: str, count: int) -> None:
        got[name] = mqtt(fleet, "mosquitto_sub", user, "-t", topic, "-v", "-C", str(count), "-W", "15")

    # monitor watches the whole test subtree; edge-01 tries to read edge-02's command topic
    watchers = [threading.Thread(target=sub, args=("monitor", "monitor", f"{PREFIX}/+/acltest", 2)),
                threading.Thread(target=sub, args=("edge01-spy", "edge-01", f"{PREFIX}/edge-02/set", 1)),
                threading.Thread(target=sub, args=("edge02-own", "edge-02", f"{PREFIX}/edge-02/set", 1))]
    for t in watchers:
        t.start()
    hub.exec("sleep 3")  # the subscribers are connected by then
    # edge-01 publishing under edge-02 is dropped by the broker; under its own prefix it goes through
    mqtt(fleet, "mosquitto_pub", "edge-01", "-t", f"{PREFIX}/edge-02/acltest", "-m", "spoofed", "-q", "1")
    mqtt(fleet, "mosquitto_pub", "edge-01", "-t", f"{PREFIX}/edge-01/acltest", "-m", "genuine", "-q", "1")
    # a command for edge-02 (published here with edge-02's own account, which may write under its prefix)
    mqtt(fleet, "mosquitto_pub", "edge-02", "-t", f"{PREFIX}/edge-02/set", "-m", '{"cmd":"noop"}', "-q", "1")
    for t in watchers:
        t.join(30)
    monitor = got["monitor"].stdout
    assert f"{PREFIX}/edge-01/acltest genuine" in monitor, monitor
    assert "spoofed" not in monitor, monitor
    assert got["edge02-own"].stdout.strip() == f'{PREFIX}/edge-02/set {{"cmd":"noop"}}', got["edge02-own"]
    assert got["edge01-spy"].stdout.strip() == "", "edge-01 read edge-02's command topic"
    # nor may a device read another device's events
    proc = mqtt(fleet, "mosquitto_sub", "edge-01", "-t", f"{PREFIX}/edge-02/available", "-C", "1", "-W", "3")
    assert "online" not in proc.stdout, proc.stdout


def _broken_copy(fleet: Fleet) -> tuple[str, str]:
    """A copy of the project as a new version whose `edgeapp run` exits at once (so it never reaches READY)."""
    import re
    import shutil

    src, dest = fleet.project, fleet.work / "broken"
    shutil.copytree(src, dest)
    init = dest / "edgeapp" / "__init__.py"  # the one place the version is written (pyproject reads it)
    text = init.read_text()
    old = re.search(r'(?m)^__version__\s*=\s*"([^"]+)"', text)[1]
    new = f"{old}.post1"
    init.write_text(text.replace(f'__version__ = "{old}"', f'__version__ = "{new}"', 1))
    service = dest / "edgeapp" / "cli" / "service.py"
    text = service.read_text()
    marker = "def run(args: argparse.Namespace) -> int:\n"
    assert marker in text, "edgeapp/cli/service.py changed: update the broken-release test"
    service.write_text(text.replace(marker, marker + '    raise SystemExit("deliberately broken release")\n', 1))
    return old, new


def test_broken_release_rolls_back_and_stops_the_batch(fleet, converged):
    old, new = _broken_copy(fleet)
    edge1, edge2 = fleet.containers["edge-01"], fleet.containers["edge-02"]
    pid_before = edge2.show("edgeapp", "MainPID")["MainPID"]
    run = fleet.playbook("-e", f'{{"edgeapp_project_dir": "{fleet.work / "broken"}"}}')
    print(f"broken update: {run.seconds:.0f}s rc={run.rc} {run.recap()}")
    assert run.rc != 0, run.output[-4000:]
    recap = run.recap()
    # the first batch (edge-01) failed; the second batch never started
    assert recap["edge-01"]["failed"] == 1, recap
    assert "edge-02" not in recap, f"edge-02 was touched: {recap}"
    assert f"rolled back to {old}" in run.output, run.output[-4000:]
    # edge-01 runs the previous release again, and is healthy and online
    assert edge1.sh("readlink /opt/edgeapp/current") == f"releases/{old}"
    assert edge1.is_active("edgeapp") == "active", edge1.journal("edgeapp")
    assert "deliberately broken release" in edge1.journal("edgeapp", lines=500)
    assert edge1.sh(f"test -x /opt/edgeapp/releases/{new}/bin/edgeapp && echo installed") == "installed"
    proc = mqtt(fleet, "mosquitto_sub", "monitor", "-t", f"{PREFIX}/edge-01/available", "-C", "1", "-W", "30")
    assert proc.stdout.strip() == "online", proc.stdout + proc.stderr
    # edge-02 was not touched at all
    assert edge2.sh("readlink /opt/edgeapp/current") == f"releases/{old}"
    assert edge2.sh("ls /opt/edgeapp/releases") == old
    assert edge2.show("edgeapp", "MainPID")["MainPID"] == pid_before
