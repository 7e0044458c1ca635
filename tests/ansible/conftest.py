"""Fixtures for the Ansible tests: tools, one hub + two device containers for the whole module, playbook runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from infra.fixtures import debian_image, docker_daemon, systemd_container_factory  # noqa: F401
from infra.paths import REPO, cache_dir

ANSIBLE_DIR = REPO / "ansible"
PLUGINS = Path(__file__).parent / "plugins"
SHARED_DATA = Path(os.environ.get("EDGEAPP_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


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
    (dest / "models").mkdir()
    shutil.copy2(REPO / "models" / "manifest.toml", dest / "models" / "manifest.toml")
    return dest


@pytest.fixture(scope="module")
def fleet(systemd_container_factory, tmp_path_factory) -> Fleet:  # noqa: F811
    work = tmp_path_factory.mktemp("fleet")
    tag = uuid.uuid4().hex[:6]
    # The hub owns a network namespace with nothing but a loopback; the devices join it, so the devices reach the
    # broker on 127.0.0.1 and no packet leaves the machine.
    hub = systemd_container_factory(name=f"eat-{tag}-hub", network="none")
    devices = {name: systemd_container_factory(name=f"eat-{tag}-{name}", network=f"container:{hub.name}")
               for name in ("edge-01", "edge-02")}
    clip = SHARED_DATA / "video" / "carving_ice.mp4"
    for c in devices.values():
        c.exec(["mkdir", "-p", "/srv/edgeapp-test"])
        c.copy_to(clip, "/srv/edgeapp-test/clip.mp4")
        c.exec(["chmod", "0644", "/srv/edgeapp-test/clip.mp4"])
    credentials = work / "credentials"
    inventory = work / "inventory.ini"
    inventory.write_text(
        "[edge_devices]\n"
        + "".join(f"{name} ansible_host={c.name}\n" for name, c in devices.items())
        + f"\n[mqtt_hub]\nhub ansible_host={hub.name}\n"
        + "\n[all:vars]\nansible_connection=docker_cli\nansible_python_interpreter=/usr/bin/python3\n"
        + "# root already: no sudo in the image\nansible_become=false\n")
    project = snapshot_project(work / "project")
    extra = work / "vars.yml"
    extra.write_text(f"""\
edgeapp_project_dir: {project}
edgeapp_controller_cache: {cache_dir() / "controller"}
edgeapp_credentials_dir: {credentials}
edgeapp_models_cache: {SHARED_DATA / "models"}
edgeapp_models: [movenet-lightning-int8, yoga-classifier]
# the containers have no network: everything the roles install is in the image or pushed
edgeapp_apt_update_cache: false
mosquitto_apt_update_cache: false
edgeapp_mqtt_host: 127.0.0.1
edgeapp_source_uri: /srv/edgeapp-test/clip.mp4
edgeapp_config_overrides:
  source: {{loop: true}}
  runtime: {{threads: 1}}
  tasks: {{pose: true, classify: true}}
# two services decoding and inferring flat out would starve Ansible on 2 cores
edgeapp_service_overrides: ["CPUQuota=30%", "Nice=10"]
edgeapp_health_check: broker
edgeapp_health_settle: 3
edgeapp_health_timeout: 90
""")
    return Fleet(work=work, inventory=inventory, extra_vars=extra, credentials=credentials, project=project,
                 containers={"hub": hub, **devices})


@pytest.fixture(scope="module")
def converged(fleet) -> Run:
    """The first run: converge the fresh containers (all devices in one batch)."""
    run = fleet.playbook("-e", '{"edgeapp_serial": "100%"}')
    assert run.rc == 0, f"converge failed ({run.log}):\n{run.output[-6000:]}"
    return run
