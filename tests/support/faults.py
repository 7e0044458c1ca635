"""Real faults for the reliability tests: a small filesystem that fills up, damaged files.

The disk is a tmpfs of its own (mounting needs root, which CI and this machine have); it is
unmounted whatever the test does. Missing root is a failure, not a skip: a skipped fault test
proves nothing.
"""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def small_disk(where: Path, size_kib: int) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.fail("the disk-full tests mount a small tmpfs and need root", pytrace=False)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "edgeapp-test", str(where)],
                   check=True, capture_output=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def fill(directory: Path, name: str = "filler") -> Path:
    """Write a file until the filesystem says ENOSPC; what is left is less than one 4 KiB page."""
    path = directory / name
    chunk = os.urandom(4096)
    with open(path, "ab", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        try:
            while True:  # the last partial page too
                f.write(b"x")
        except OSError:
            pass
    return path


def free_bytes(directory: Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize
