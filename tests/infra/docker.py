"""Make sure a Docker engine answers: install docker.io and start dockerd when needed (root, Debian)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from infra.paths import cache_dir

DOCKERD_LOG = Path(os.environ.get("EDGEAPP_DOCKERD_LOG", "/var/log/edgeapp-tests-dockerd.log"))
STARTED_PID = cache_dir() / "dockerd.started.pid"


class InfraError(RuntimeError):
    """The container infrastructure could not be set up (no docker, no debootstrap, ...)."""


def docker(*args: str, check: bool = True, input: bytes | str | None = None, timeout: float | None = 600,
           capture: bool = True) -> subprocess.CompletedProcess:
    """Run the docker CLI; on failure raise with its stderr in the message."""
    text = not isinstance(input, bytes)
    proc = subprocess.run(["docker", *args], input=input, capture_output=capture, text=text, timeout=timeout)
    if check and proc.returncode != 0:
        raise InfraError(f"docker {' '.join(args[:3])}... exited {proc.returncode}: {proc.stderr}")
    return proc


def _engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                          timeout=30)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def apt_install(*packages: str) -> None:
    """apt-get install, waiting for another apt/dpkg run to let go of the lock instead of failing."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    base = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-qq"]
    proc = subprocess.run([*base, "install", "-y", "--no-install-recommends", *packages], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:  # a fresh machine may need its package lists first
        subprocess.run([*base, "update"], env=env, check=True, capture_output=True)
        subprocess.run([*base, "install", "-y", "--no-install-recommends", *packages], env=env, check=True,
                       capture_output=True)


def ensure_docker(timeout: float = 60.0) -> None:
    """Return once ``docker info`` answers. Installs docker.io and starts dockerd in the background if needed.

    The daemon is left running (it is shared by every container test and by later runs).
    """
    if _engine_answers():
        return
    if os.geteuid() != 0:
        raise InfraError("no Docker engine answers and this is not root: start dockerd yourself")
    if not shutil.which("dockerd"):
        apt_install("docker.io")
    # another process (a parallel test run) may be starting it: give it a moment before starting our own
    lock = cache_dir() / "dockerd.start.lock"
    import fcntl

    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        if not _engine_answers():
            DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
            with open(DOCKERD_LOG, "ab") as log:
                daemon = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
            STARTED_PID.write_text(f"{daemon.pid}\n")  # .ci/test stops the daemon it started, by this id
            deadline = time.monotonic() + timeout
            while not _engine_answers():
                if time.monotonic() > deadline:
                    raise InfraError(f"dockerd did not answer within {timeout:.0f}s; see {DOCKERD_LOG}")
                time.sleep(0.5)
