"""A Debian bookworm image with systemd, built from a ``debootstrap --variant=minbase`` root (no Docker Hub).

The image is tagged by a hash of its recipe, so a second run finds it and does nothing; the root is also kept as a
tarball in the cache, so a new Docker data dir only needs ``docker import`` (seconds), not debootstrap (~1 min).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from infra.docker import InfraError, apt_install, docker, ensure_docker
from infra.paths import cache_dir

SUITE = "bookworm"
IMAGE_REPO = "edgeapp-test/bookworm-systemd"

# systemd as PID 1, python3 + venv for edgeapp, python3-apt for Ansible's apt module, mosquitto (+clients) for a
# broker inside the container (disabled in the image: the hub role or a test enables it), openssl for TLS.
DEFAULT_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-venv",
    "python3-apt",
    "ca-certificates",
    "procps",
    "openssl",
    "mosquitto",
    "mosquitto-clients",
)

# Units that only make noise (or fail) in a container. Masked so `systemctl is-system-running` says "running".
MASKED_UNITS = (
    "getty@tty1.service",
    "console-getty.service",
    "serial-getty@.service",
    "systemd-firstboot.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-remount-fs.service",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "dev-hugepages.mount",
    "dev-mqueue.mount",
    "systemd-modules-load.service",
    "kmod-static-nodes.service",
    "systemd-journal-flush.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
)

RECIPE_VERSION = "1"  # bump when the steps below change in a way that should rebuild cached images


def debian_mirror() -> str:
    """``$EDGEAPP_DEBIAN_MIRROR``, else the first Debian (non-security) mirror in this machine's apt sources."""
    env = os.environ.get("EDGEAPP_DEBIAN_MIRROR")
    if env:
        return env
    texts = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.is_file() and (path.suffix in (".list", ".sources") or path.name == "sources.list"):
            texts.append(path.read_text(errors="replace"))
    for text in texts:
        for uri in re.findall(r"^\s*(?:URIs:|deb)\s+(?:\[[^\]]*\]\s+)?(\S+)", text, flags=re.MULTILINE):
            if uri.startswith("http") and "security" not in uri and uri.rstrip("/").endswith("/debian"):
                return uri
    return "http://deb.debian.org/debian"


def image_tag(packages: Iterable[str] = DEFAULT_PACKAGES) -> str:
    """The tag of the image made from this package list (a hash of the recipe)."""
    recipe = "\n".join([RECIPE_VERSION, SUITE, *sorted(set(packages)), *MASKED_UNITS])
    return f"{IMAGE_REPO}:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def _image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def build_root_tarball(tarball: Path, packages: Iterable[str], arch: str | None = None,
                       prepare: Callable[[Path], None] | None = None) -> None:
    """debootstrap a minbase bookworm root (of ``arch``, else the host's) with ``packages``, run ``prepare`` on it and
    pack it as ``tarball`` (written whole or not at all). The caller holds its cache lock."""
    if not shutil.which("debootstrap"):
        apt_install("debootstrap")
    with tempfile.TemporaryDirectory(prefix=f"{arch or 'host'}-root-", dir=tarball.parent) as tmp:
        root = Path(tmp) / "root"
        cmd = ["debootstrap", *([f"--arch={arch}"] if arch else []), "--variant=minbase",
               f"--include={','.join(sorted(set(packages)))}", SUITE, str(root), debian_mirror()]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            log = root / "debootstrap" / "debootstrap.log"
            tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
            raise InfraError(f"{' '.join(cmd[:2])} failed ({proc.returncode}): {proc.stderr[-2000:]}\n{tail}")
        for leftover in (root / "var" / "cache" / "apt" / "archives").glob("*.deb"):
            leftover.unlink()
        if prepare is not None:
            prepare(root)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.replace(tarball)


def _prepare_root(root: Path) -> None:
    """Make the root behave as a systemd container: quiet units, no services enabled by packages, no apt timers."""
    etc = root / "etc"
    systemd_etc = etc / "systemd" / "system"
    for unit in MASKED_UNITS:
        link = systemd_etc / unit
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to("/dev/null")
    # packages enable their services at install time; a test or a role enables what it needs
    for wants in systemd_etc.glob("*.wants/mosquitto.service"):
        wants.unlink()
    (etc / "hostname").write_text("edgeapp-test\n")
    (etc / "machine-id").write_text("")  # a fresh id per container
    (root / "var" / "lib" / "dbus" / "machine-id").unlink(missing_ok=True)
    # apt must never try to reach the network from a test container on its own
    (etc / "apt" / "apt.conf.d" / "99edgeapp-test").write_text('APT::Periodic::Enable "0";\n')


def ensure_image(packages: Iterable[str] = DEFAULT_PACKAGES, rebuild: bool = False) -> str:
    """Return the tag of a bookworm systemd image with ``packages``, building (or importing) it when missing."""
    packages = tuple(packages)
    tag = image_tag(packages)
    ensure_docker()
    if not rebuild and _image_exists(tag):
        return tag
    cache = cache_dir()
    tarball = cache / f"{tag.split(':', 1)[1]}.rootfs.tar"
    with open(cache / "image.build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others reuse its result
        if not rebuild and _image_exists(tag):
            return tag
        if rebuild or not tarball.is_file():
            build_root_tarball(tarball, packages, prepare=_prepare_root)
        with open(tarball, "rb") as fh:
            proc = subprocess.run(
                ["docker", "import",
                 "--change", 'CMD ["/lib/systemd/systemd"]',
                 "--change", "ENV container=docker",
                 "-", tag],
                stdin=fh, capture_output=True, text=True,
            )
        if proc.returncode != 0:
            raise InfraError(f"docker import failed: {proc.stderr}")
    return tag
