"""pytest fixtures for container tests. Import the ones you use into a test module or a conftest::

    from infra.fixtures import debian_image, docker_daemon, systemd_container_factory, wheelhouse  # noqa: F401

Mark such tests ``@pytest.mark.container``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from infra.container import SystemdContainer
from infra.docker import ensure_docker
from infra.image import DEFAULT_PACKAGES, ensure_image
from infra.wheelhouse import build_wheelhouse


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    """A Docker engine that answers (installed and started when missing). Left running afterwards."""
    ensure_docker()


@pytest.fixture(scope="session")
def debian_image(docker_daemon) -> str:
    """The tag of the bookworm systemd image (built once, then reused by tag)."""
    return ensure_image(DEFAULT_PACKAGES)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory):
    """The project + dependencies as wheels for the container's Python 3.11 (Pi constraints applied)."""
    return build_wheelhouse()


@pytest.fixture(scope="session")
def systemd_container_factory(debian_image) -> Iterator[Callable[..., SystemdContainer]]:
    """``make(name=None, network="none", **kw)`` starts a systemd container and waits until systemd runs.

    Every container made is removed at the end of the session (set EDGEAPP_KEEP_CONTAINERS=1 to keep them for a
    look: ``docker exec -it NAME bash``).
    """
    made: list[SystemdContainer] = []

    def make(name: str | None = None, network: str = "none", image: str | None = None, **kw) -> SystemdContainer:
        c = SystemdContainer(image or debian_image, name=name, network=network, **kw)
        made.append(c)
        return c.start()

    yield make
    if os.environ.get("EDGEAPP_KEEP_CONTAINERS") != "1":
        for c in reversed(made):  # containers sharing a network namespace go before their owner
            c.remove()


@pytest.fixture
def systemd_container(systemd_container_factory) -> Iterator[SystemdContainer]:
    """One fresh systemd container (network: loopback only) for one test."""
    c = systemd_container_factory()
    yield c
    if os.environ.get("EDGEAPP_KEEP_CONTAINERS") != "1":
        c.remove()
