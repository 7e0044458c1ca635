"""Shared container test infrastructure: dockerd, a Debian bookworm systemd image, systemd-as-PID-1 containers.

Used by the Ansible tests (tests/ansible) and the systemd unit test. Test modules under tests/ import it as
``infra`` (pytest puts tests/ on sys.path because tests/ has a conftest.py and no __init__.py)::

    from infra import SystemdContainer, ensure_docker, ensure_image, build_wheelhouse
    from infra.fixtures import docker_daemon, debian_image, systemd_container_factory  # noqa: F401

Nothing here reaches Docker Hub: the base image is made from a ``debootstrap --variant=minbase`` root, cached by tag
(and the root as a tarball), so a second run reuses it.
"""

from infra.container import SystemdContainer, systemd_command, systemd_run_args
from infra.docker import docker, ensure_docker
from infra.image import DEFAULT_PACKAGES, ensure_image, image_tag
from infra.wheelhouse import build_wheelhouse

__all__ = [
    "DEFAULT_PACKAGES",
    "SystemdContainer",
    "build_wheelhouse",
    "docker",
    "ensure_docker",
    "ensure_image",
    "image_tag",
    "systemd_command",
    "systemd_run_args",
]
