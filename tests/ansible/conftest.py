"""Fixtures for the Ansible tests: one hub + two device containers for the whole module, and the first run."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from fleetlib import KIOSK, Fleet, Run, fake_libedgetpu_deb, snapshot_project
from support.shared import DATA as SHARED_DATA
from infra.fixtures import debian_image, docker_daemon, systemd_container_factory  # noqa: F401
from infra.paths import REPO, cache_dir


def controller_cache() -> Path:
    """The wheelhouse cache of this checkout. Wheelhouses are cached by version alone: two checkouts at one version
    with other code or extras, tested at the same time, would rebuild each other's between a run and its second run."""
    return cache_dir() / "controller" / hashlib.sha256(str(REPO).encode()).hexdigest()[:12]


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
        # as Raspberry Pi OS Lite boots: the kiosk role must switch its devices to graphical.target
        c.exec(["systemctl", "set-default", "multi-user.target"])
    credentials = work / "credentials"
    inventory = work / "inventory.ini"
    # edge-02 "has a Coral": libedgetpu from a .deb the operator ships (a stand-in package, no library in it)
    coral_deb = fake_libedgetpu_deb(work / "deb")
    host_vars = {"edge-02": f"edgeapp_coral=true edgeapp_coral_source=deb edgeapp_coral_deb={coral_deb}"}
    inventory.write_text(
        "[edge_devices]\n"
        + "".join(f"{name} ansible_host={c.name} {host_vars.get(name, '')}\n" for name, c in devices.items())
        + f"\n[kiosk]\n{KIOSK}\n"  # a device with a screen
        + f"\n[mqtt_hub]\nhub ansible_host={hub.name}\n"
        + "\n[all:vars]\nansible_connection=docker_cli\nansible_python_interpreter=/usr/bin/python3\n"
        + "# root already: no sudo in the image\nansible_become=false\n")
    project = snapshot_project(work / "project")
    extra = work / "vars.yml"
    extra.write_text(f"""\
edgeapp_project_dir: {project}
edgeapp_controller_cache: {controller_cache()}
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
# no cage or Chromium here (no apt mirror), nor a screen: the kiosk is set up but not installed or started
edgeapp_kiosk_install: false
""")
    return Fleet(work=work, inventory=inventory, extra_vars=extra, credentials=credentials, project=project,
                 containers={"hub": hub, **devices})


@pytest.fixture(scope="module")
def converged(fleet) -> Run:
    """The first run: converge the fresh containers (all devices in one batch)."""
    run = fleet.playbook("-e", '{"edgeapp_serial": "100%"}')
    assert run.rc == 0, f"converge failed ({run.log}):\n{run.output[-6000:]}"
    return run
