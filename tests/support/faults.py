"""Real faults for the reliability tests: a small filesystem that fills up, one that fails under open
files, damaged files.

The disk is a tmpfs, or an ext4 image on a loop device, of its own (mounting needs root, which CI and
this machine have); it is unmounted whatever the test does. Missing root is a failure, not a skip: a
skipped fault test proves nothing.
"""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


EXT4_IOC_SHUTDOWN, EXT4_GOING_FLAGS_NOLOGFLUSH = 0x8004587D, 2  # _IOR('X', 125, __u32), from linux/ext4.h


@contextmanager
def small_disk(where: Path, size_kib: int) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    _need_root()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "edgeapp-test", str(where)],
                   check=True, capture_output=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


@contextmanager
def ext4_disk(where: Path, size_kib: int = 8192) -> Iterator[Path]:
    """A real ext4 in an image beside ``where``, mounted there ``errors=remount-ro`` (as Debian mounts its root):
    the kernel turns it read-only at the first error it finds, under the files open on it."""
    where.mkdir(parents=True, exist_ok=True)
    _need_root()
    image = _image(where)
    subprocess.run(["truncate", "-s", f"{size_kib}K", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    _mount(image, where)
    try:
        yield where
    finally:
        _unmount(where)


def ext4_error(disk: Path) -> None:
    """The file system turns read-only under the open files, as after an I/O error on an SD card (ext4's
    own hook for this, which goes through the same path as a real error)."""
    Path(f"/sys/fs/ext4/{_device(disk).name}/trigger_fs_error").write_text("edgeapp fault test\n")


def ext4_shutdown(disk: Path) -> None:
    """From now on every read and write on the file system fails with EIO, as on a card that died (ext4's
    shutdown ioctl, as the kernel's own file system tests use it); the page cache is of no help either."""
    fd = os.open(disk, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, EXT4_GOING_FLAGS_NOLOGFLUSH.to_bytes(4, "little"))
    finally:
        os.close(fd)


def ext4_back(disk: Path) -> None:
    """The file system back, writable, as after the card was reseated: the failed mount is detached (files
    still open on it stay there), and the image is mounted again (the kernel replays its journal)."""
    _unmount(disk)
    _mount(_image(disk), disk)


def _image(where: Path) -> Path:
    return where.with_name(where.name + ".img")


def _mount(image: Path, where: Path) -> None:
    # A loop device of its own each time: a lazily unmounted file system stays on the old one while files are open.
    device = subprocess.run(["losetup", "-f", "--show", str(image)], check=True, capture_output=True,
                            text=True).stdout.strip()
    subprocess.run(["mount", "-t", "ext4", "-o", "errors=remount-ro", device, str(where)], check=True,
                   capture_output=True)


def _unmount(where: Path) -> None:
    device = _device(where)
    subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)
    subprocess.run(["losetup", "-d", str(device)], check=False, capture_output=True)  # once its files are closed


def _device(where: Path) -> Path:
    return Path(subprocess.run(["findmnt", "-n", "-o", "SOURCE", "--mountpoint", str(where)], check=True,
                               capture_output=True, text=True).stdout.strip())


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the disk fault tests mount file systems of their own and need root", pytrace=False)


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
