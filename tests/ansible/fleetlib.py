"""Helpers for the Ansible tests: the tools, a playbook run and its recap, the fleet of containers."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from infra.paths import REPO

ANSIBLE_DIR = REPO / "ansible"
PLUGINS = Path(__file__).parent / "plugins"
KIOSK = "edge-02"  # the device in the [kiosk] group; edge-01 has no screen
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def tool(name: str) -> str:
    """An Ansible tool from $EDGEAPP_TOOLS_VENV (default .venv-tools, made by .ci/container-prereqs.sh) or PATH."""
    venv = Path(os.environ.get("EDGEAPP_TOOLS_VENV", REPO / ".venv-tools"))
    path = venv / "bin" / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: run .ci/container-prereqs.sh (it makes {venv} with ansible-core and "
                    "ansible-lint)")
    return found


@dataclass
class Run:
    rc: int
    output: str
    seconds: float
    log: Path

    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP per host: {host: {ok, changed, unreachable, failed}} (hosts that ran no task are absent)."""
        return {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
                for m in RECAP.findall(self.output)}


@dataclass
class Fleet:
    """The hub and two devices, the inventory that names them, and how to run site.yml against them."""

    work: Path
    inventory: Path
    extra_vars: Path
    containers: dict  # inventory name -> SystemdContainer
    credentials: Path
    project: Path
    runs: list[Run] = field(default_factory=list)

    def playbook(self, *args: str, timeout: float = 900) -> Run:
        env = dict(os.environ,
                   ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
                   ANSIBLE_CONNECTION_PLUGINS=str(PLUGINS / "connection"),
                   ANSIBLE_CALLBACK_PLUGINS=str(PLUGINS / "callback"),
                   ANSIBLE_CALLBACKS_ENABLED="task_times",
                   ANSIBLE_PIPELINING="True",
                   ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_HOST_KEY_CHECKING="False",
                   ANSIBLE_LOCAL_TEMP=str(self.work / "ansible-tmp"),
                   ANSIBLE_RETRY_FILES_ENABLED="False",
                   PYTHONUNBUFFERED="1")
        cmd = [tool("ansible-playbook"), "-i", str(self.inventory), "-e", f"@{self.extra_vars}",
               str(ANSIBLE_DIR / "site.yml"), *args]
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ANSIBLE_DIR, timeout=timeout)
        log = self.work / f"run-{len(self.runs) + 1}.log"
        log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        run = Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start, log)
        self.runs.append(run)
        return run

    def password(self, user: str) -> str:
        return (self.credentials / f"{user}.mqtt").read_text().strip()


def snapshot_project(dest: Path) -> Path:
    """The files a release is built from, copied once: the work tree may change while the module runs."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("edgeapp", "constraints", "systemd"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, dest / name, ignore=ignore)
    # and what the wheel pulls in from outside the package (the manifest, the shipped yoga model)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    for src in pyproject["tool"]["hatch"]["build"]["targets"]["wheel"].get("force-include", {}):
        (dest / src).parent.mkdir(parents=True, exist_ok=True)
        if (REPO / src).is_dir():
            shutil.copytree(REPO / src, dest / src, ignore=ignore)
        else:
            shutil.copy2(REPO / src, dest / src)
    return dest


def fake_libedgetpu_deb(folder: Path) -> Path:
    """A package named like Coral's runtime, holding only a note: enough to test the .deb install path."""
    root = folder / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: libedgetpu1-std\nVersion: 0.0~test\nArchitecture: all\nMaintainer: edgeapp tests <t@example.invalid>\n"
        "Description: stand-in for the Edge TPU runtime (tests only)\n")
    doc = root / "usr" / "share" / "doc" / "libedgetpu1-std"
    doc.mkdir(parents=True)
    (doc / "README.test").write_text("edgeapp test stand-in\n")
    deb = folder / "libedgetpu1-std_0.0~test_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


# Prints how many TCP sockets listen on the port and how many of those the process holds.
_LISTENERS = """
import os, sys
pid, port = sys.argv[1], int(sys.argv[2])
listening = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for row in open(table).read().splitlines()[1:]:
        f = row.split()
        if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
            listening.add(f"socket:[{f[9]}]")
held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
print(len(listening), len(listening & held))
"""


def holds_listener(container, unit: str, port: int) -> tuple[int, int]:
    """(TCP listeners on ``port``, how many of them the unit's main process holds), read inside ``container``.

    The devices share one network namespace, so whether a port answers says nothing about which device serves it;
    the socket's owner does. Read as the unit's user: its /proc/PID/fd is not root's to read without CAP_SYS_PTRACE.
    """
    props = container.show(unit, "MainPID", "User")
    out = container.sh(f"python3 -c {shlex.quote(_LISTENERS)} {props['MainPID']} {port}", user=props["User"])
    total, held = out.split()
    return int(total), int(held)
