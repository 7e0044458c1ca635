"""An arm64 Debian bookworm root run under qemu-user (binfmt): the Raspberry Pi OS target, emulated.

The root is made once with ``debootstrap --arch=arm64`` (~215 s) and cached as a tarball named by a hash of its
recipe (``<cache>/arm64-<hash>.rootfs.tar``), as the x86 systemd image is; each test unpacks a fresh copy (seconds).
Commands run in it through ``chroot`` inside a private mount namespace (``unshare --mount``), with /proc and /dev
mounted and /sys deliberately not: ai-edge-litert's cpuinfo would read the host's x86 CPU there and crash under
emulation (an artefact of emulation, not a Pi problem; see shared/docs/environment.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import platform
import shlex
import shutil
import subprocess
from pathlib import Path

from infra.docker import InfraError, apt_install
from infra.image import SUITE, build_root_tarball
from infra.paths import cache_dir

# python3-numpy stands in for the Pi's system numpy 1.24 that apt's picamera2 is built against: the release venv is
# made with --system-site-packages, exactly as on a Pi, so pip keeps that numpy.
ARM64_PACKAGES = ("python3", "python3-venv", "python3-numpy", "ca-certificates")
RECIPE_VERSION = "1"
QEMU = "/usr/bin/qemu-aarch64-static"
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def ensure_binfmt() -> None:
    """qemu-user-static registered for aarch64 ELF binaries (installed, binfmt_misc mounted and enabled);
    nothing to do on an aarch64 machine."""
    if platform.machine() == "aarch64":
        return
    if not Path(QEMU).is_file() or not shutil.which("update-binfmts"):
        apt_install("qemu-user-static", "binfmt-support")
    if not (BINFMT / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True)
    if not (BINFMT / "qemu-aarch64").is_file():
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    if not (BINFMT / "qemu-aarch64").is_file():
        raise InfraError("qemu-aarch64 is not registered with binfmt_misc (update-binfmts --enable qemu-aarch64)")


def root_key(packages: tuple[str, ...] = ARM64_PACKAGES) -> str:
    recipe = "\n".join([RECIPE_VERSION, SUITE, "arm64", *sorted(set(packages))])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def ensure_arm64_rootfs(packages: tuple[str, ...] = ARM64_PACKAGES) -> Path:
    """The cached tarball of the arm64 bookworm root, debootstrapped when missing."""
    ensure_binfmt()
    cache = cache_dir()
    tarball = cache / f"arm64-{root_key(packages)}.rootfs.tar"
    if tarball.is_file():
        return tarball
    with open(cache / "arm64.build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others reuse its result
        if not tarball.is_file():
            build_root_tarball(tarball, packages, arch="arm64")
    return tarball


class Arm64Root:
    """A fresh, unpacked copy of the cached arm64 root; ``run()`` executes a shell command inside it."""

    def __init__(self, where: Path, tarball: Path | None = None):
        self.path = Path(where) / "root"
        self.path.mkdir(parents=True)
        subprocess.run(["tar", "--numeric-owner", "-C", str(self.path), "-xf", str(tarball or ensure_arm64_rootfs())],
                       check=True)

    def copy_in(self, src: Path, dest: str) -> str:
        """Copy a host file or folder to ``dest`` (an absolute path inside the root); returns ``dest``."""
        target = self.path / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(src).is_dir():
            shutil.copytree(src, target, symlinks=False)
        else:
            shutil.copy2(src, target)
        return dest

    def run(self, command: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        """``command`` under /bin/sh in the root (emulated aarch64), with /proc and /dev but no /sys."""
        root = shlex.quote(str(self.path))
        inner = (f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && "
                 f"exec chroot {root} /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 "
                 f"/bin/sh -c {shlex.quote(command)}")
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise InfraError(f"in the arm64 root, `{command[:200]}` exited {proc.returncode}:\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
