"""A container with systemd as PID 1, and helpers to exec, copy and wait in it."""

from __future__ import annotations

import io
import shlex
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

from infra.docker import InfraError, docker


def systemd_run_args() -> list[str]:
    """The ``docker run`` flags with which systemd runs as PID 1 here (see shared/docs/environment.md).

    ``--privileged`` does not work on this machine; these do.
    """
    return [
        "--cap-add", "SYS_ADMIN",
        "--security-opt", "seccomp=unconfined",
        "--security-opt", "apparmor=unconfined",
        "--cgroupns=host",
        "--tmpfs", "/run",
        "--tmpfs", "/run/lock",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup",
        "-e", "container=docker",
        "--stop-signal", "SIGRTMIN+3",
        "--stop-timeout", "10",
    ]


def systemd_command() -> list[str]:
    """The container's command: make ``/`` a shared mount, then exec systemd as PID 1.

    Booted by a kernel, systemd makes ``/`` shared itself; in a container it leaves propagation to the container
    manager, and docker's mounts are private. systemd then builds a unit's ``$CREDENTIALS_DIRECTORY``
    (``LoadCredential=``) in a child mount namespace that never reaches the host's view: the service would find an
    empty root-only 0700 directory. Shared, as on a device, the credentials arrive owned by the unit's ``User=``.
    """
    return ["/bin/sh", "-c", "mount --make-rshared / && exec /lib/systemd/systemd"]


class SystemdContainer:
    """One running container; use as a context manager or call :meth:`remove`.

    ``network``: ``"none"`` (the default: only a loopback, nothing leaves it), ``"container:<name>"`` to share
    another container's network namespace (the containers then talk over 127.0.0.1), or a docker network name.
    """

    def __init__(self, image: str, name: str | None = None, network: str = "none",
                 volumes: dict[str, str] | None = None, extra_args: list[str] | None = None,
                 labels: dict[str, str] | None = None):
        self.image = image
        self.name = name or f"edgeapp-test-{uuid.uuid4().hex[:8]}"
        self.network = network
        self.volumes = volumes or {}
        self.extra_args = extra_args or []
        self.labels = {"edgeapp-test": "1", **(labels or {})}
        self.id: str | None = None

    # lifecycle ---------------------------------------------------------------------------------------------
    def start(self, wait: bool = True, timeout: float = 90.0) -> SystemdContainer:
        docker("rm", "-f", self.name, check=False)  # a leftover from an interrupted run
        args = ["run", "-d", "--name", self.name, f"--network={self.network}", *systemd_run_args()]
        if not self.network.startswith("container:"):
            args += ["--hostname", self.name]
        for host, guest in self.volumes.items():
            args += ["-v", f"{host}:{guest}"]
        for key, value in self.labels.items():
            args += ["--label", f"{key}={value}"]
        args += [*self.extra_args, self.image, *systemd_command()]
        self.id = docker(*args).stdout.strip()
        if wait:
            self.wait_running(timeout)
        return self

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False)
        self.id = None

    def __enter__(self) -> SystemdContainer:
        return self.start() if self.id is None else self

    def __exit__(self, *exc) -> None:
        self.remove()

    # commands ----------------------------------------------------------------------------------------------
    def exec(self, cmd: str | list[str], check: bool = True, input: str | bytes | None = None,
             user: str | None = None, env: dict[str, str] | None = None, timeout: float | None = 300,
             ) -> subprocess.CompletedProcess:
        """Run ``cmd`` (a list, or a string for ``/bin/sh -c``) in the container; text output unless input is bytes."""
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        args = ["exec"]
        if input is not None:
            args.append("-i")
        if user:
            args += ["-u", user]
        for k, v in (env or {}).items():
            args += ["-e", f"{k}={v}"]
        proc = docker(*args, self.name, *argv, check=False, input=input, timeout=timeout)
        if check and proc.returncode != 0:
            shown = cmd if isinstance(cmd, str) else shlex.join(cmd)
            raise InfraError(f"[{self.name}] `{shown}` exited {proc.returncode}\nstdout: {proc.stdout}\n"
                             f"stderr: {proc.stderr}")
        return proc

    def sh(self, cmd: str, **kw) -> str:
        """Run a shell command and return its stdout (stripped)."""
        return self.exec(cmd, **kw).stdout.strip()

    def copy_to(self, src: str | Path, dest: str) -> None:
        """``docker cp`` a host file or folder into the container (dest: a path inside)."""
        docker("cp", str(src), f"{self.name}:{dest}")

    def copy_from(self, src: str, dest: str | Path) -> None:
        docker("cp", f"{self.name}:{src}", str(dest))

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644, owner: str = "root") -> None:
        """Create ``path`` with ``content`` (parents made), ``mode`` and ``owner``."""
        data = content.encode() if isinstance(content, str) else content
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(Path(path).name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
        parent = str(Path(path).parent)
        self.exec(["mkdir", "-p", parent])
        docker("cp", "-", f"{self.name}:{parent}", input=buf.getvalue())
        if owner != "root":
            self.exec(["chown", owner, path])

    def read_file(self, path: str) -> str:
        return self.exec(["cat", path]).stdout

    # systemd -----------------------------------------------------------------------------------------------
    def wait_running(self, timeout: float = 90.0) -> str:
        """Wait until ``systemctl is-system-running`` says running (or degraded); return the state.

        Raises with the failed units listed if it ends up anything else.
        """
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            proc = self.exec(["systemctl", "is-system-running"], check=False, timeout=30)
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                return state
            if proc.returncode != 0 and "Failed to connect" in proc.stderr + proc.stdout:
                state = "no bus yet"
            time.sleep(0.3)
        failed = self.exec(["systemctl", "--failed", "--no-legend"], check=False).stdout
        raise InfraError(f"[{self.name}] systemd not running after {timeout:.0f}s (state {state!r}); failed: {failed}")

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.exec(["systemctl", *args], check=check)

    def is_active(self, unit: str) -> str:
        return self.exec(["systemctl", "is-active", unit], check=False).stdout.strip()

    def show(self, unit: str, *props: str) -> dict[str, str]:
        """``systemctl show -p A -p B UNIT`` as a dict."""
        out = self.exec(["systemctl", "show", unit, *[f"--property={p}" for p in props]]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str | None = None, lines: int = 200) -> str:
        args = ["journalctl", "--no-pager", "-n", str(lines)]
        if unit:
            args += ["-u", unit]
        return self.exec(args, check=False).stdout

    def wait_for(self, cmd: str, timeout: float = 30.0, interval: float = 0.5) -> str:
        """Poll a shell command until it exits 0; return its stdout."""
        deadline = time.monotonic() + timeout
        while True:
            proc = self.exec(cmd, check=False)
            if proc.returncode == 0:
                return proc.stdout.strip()
            if time.monotonic() > deadline:
                raise InfraError(f"[{self.name}] `{cmd}` did not succeed within {timeout}s: {proc.stderr}")
            time.sleep(interval)
