"""A wheelhouse (the project's wheel + every dependency as a wheel) for the test container's Python, built on the
host: pip inside a debootstrap container cannot verify TLS, so containers install with
``pip install --no-index --find-links WHEELHOUSE``.

It is the same builder the Ansible role runs on the controller (ansible/roles/edgeapp/files/build_wheelhouse.py).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

from infra.docker import InfraError
from infra.paths import REPO, cache_dir

BUILDER = REPO / "ansible" / "roles" / "edgeapp" / "files" / "build_wheelhouse.py"


def build_wheelhouse(project: Path = REPO, cache_root: Path | None = None, arch: str | None = None,
                     python_version: str = "3.11", constraints: Path | None = REPO / "constraints" / "pi-bookworm.txt",
                     extras: str = "") -> Path:
    """Build (or reuse) the wheelhouse and return its folder.

    Cached under ``cache_root`` (default ``<test cache>/wheelhouse``) by version and target; the project wheel is
    rebuilt every call (cheap, reproducible), dependencies only when the requirements or constraints change.
    ``python_version`` is the container's (Bookworm: 3.11); ``arch`` defaults to this machine's.
    """
    cache_root = cache_root or cache_dir() / "wheelhouse"
    cmd = [sys.executable, str(BUILDER), "--project", str(project), "--cache-root", str(cache_root),
           "--arch", arch or platform.machine(), "--python-version", python_version, "--extras", extras,
           "--constraints", str(constraints) if constraints else ""]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InfraError(f"wheelhouse build failed: {proc.stderr[-3000:]}")
    return Path(json.loads(proc.stdout.strip().splitlines()[-1])["dir"])
