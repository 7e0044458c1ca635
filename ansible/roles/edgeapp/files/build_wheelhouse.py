#!/usr/bin/env python3
"""Build (once, on the controller) the wheelhouse a device installs edgeapp from, with no index on the device.

    build_wheelhouse.py --project DIR --cache-root DIR --arch aarch64 [--python-version 3.11]
                        [--constraints FILE] [--extras pi] [--rebuild]

Result: CACHE_ROOT/<version>-<arch>-cp<ver>/ (and the same as a .tar beside it, which the role pushes) holding the edgeapp wheel, every dependency as a wheel for that target
(``pip download --only-binary :all: --platform ...``), SHA256SUMS and a ``.complete`` marker. Prints one JSON line:
{"changed": bool, "version": ..., "dir": ..., "wheel": ...}.

The project wheel is rebuilt every time (hatchling wheels are reproducible, so an unchanged tree gives the same
bytes and nothing changes); dependencies are downloaded again only when the wheel's requirements, the constraints
or the target change. Also used by the test infrastructure (tests/infra/wheelhouse.py).
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# glibc of the newest manylinux wheels a Bookworm device can run (Bookworm has glibc 2.36).
GLIBC_MINOR = 36


def platform_tags(arch: str) -> list[str]:
    """Every platform tag a Bookworm ``arch`` machine accepts: pip does not expand manylinux tags by itself."""
    tags = [f"manylinux_2_{m}_{arch}" for m in range(GLIBC_MINOR, 4, -1)]
    tags += [f"manylinux2014_{arch}"]
    if arch in ("x86_64", "i686"):
        tags += [f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    return tags + [f"linux_{arch}"]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"build_wheelhouse: `pip {' '.join(args[:2])} ...` failed ({proc.returncode})")


def build_project_wheel(project: Path, dest: Path) -> Path:
    pip("wheel", "--no-deps", "--wheel-dir", str(dest), str(project))
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"build_wheelhouse: expected one wheel from {project}, got {[w.name for w in wheels]}")
    return wheels[0]


def wheel_metadata(wheel: Path) -> tuple[str, str, list[str]]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(name).decode())
    return meta["Name"], meta["Version"], meta.get_all("Requires-Dist") or []


def write_tar(folder: Path) -> Path:
    """FOLDER.tar beside it (uncompressed: wheels are zips already), with fixed metadata so equal folders give
    equal bytes. One file is much faster to push than a folder of them."""
    tar_path = folder.with_name(folder.name + ".tar")
    partial = tar_path.with_suffix(".tar.partial")
    with tarfile.open(partial, "w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(folder.iterdir()):
            info = tar.gettarinfo(str(path), arcname=path.name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            info.mode = 0o644
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    partial.replace(tar_path)
    return tar_path


def find_same_deps(cache_root: Path, deps_key: str, exclude: Path) -> Path | None:
    """A complete wheelhouse of another version whose dependencies were resolved from the same inputs."""
    for marker in sorted(cache_root.glob("*/.complete")):
        folder = marker.parent
        if folder != exclude and marker.read_text().strip() == deps_key and (folder / ".project").is_file():
            return folder
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--project", required=True, type=Path)
    ap.add_argument("--cache-root", required=True, type=Path)
    ap.add_argument("--arch", default=platform.machine(), help="target machine: aarch64, x86_64 (uname -m)")
    ap.add_argument("--python-version", default="3.11", help="the devices' Python (Bookworm: 3.11)")
    ap.add_argument("--constraints", default="", help="a pip constraints file ('' or missing: none)")
    ap.add_argument("--extras", default="", help="comma-separated extras to include (e.g. pi)")
    ap.add_argument("--index-url", default="", help="pip --index-url for the dependencies")
    ap.add_argument("--version", default="", help="the release wanted: a cached wheelhouse of it is used as it is")
    ap.add_argument("--rebuild", action="store_true", help="download the dependencies again")
    args = ap.parse_args(argv)

    pyver = args.python_version.replace(".", "")
    constraints = Path(args.constraints) if args.constraints and Path(args.constraints).is_file() else None
    args.cache_root.mkdir(parents=True, exist_ok=True)
    if args.version and not args.rebuild:  # e.g. a rollback to a release built earlier: no need for its source
        cached = args.cache_root / f"{args.version}-{args.arch}-cp{pyver}"
        marker = cached / ".project"
        tar_ok = cached.with_name(cached.name + ".tar").is_file()
        if (cached / ".complete").is_file() and marker.is_file() and (cached / marker.read_text().strip()).is_file() \
                and tar_ok:
            print(json.dumps({"changed": False, "version": args.version, "dir": str(cached), "tar": f"{cached}.tar",
                              "wheel": marker.read_text().strip()}))
            return 0
    with tempfile.TemporaryDirectory(prefix="wheelhouse-", dir=args.cache_root) as tmp:
        built = build_project_wheel(args.project.resolve(), Path(tmp) / "project")
        _, version, requires = wheel_metadata(built)
        if args.version and args.version != version:
            raise SystemExit(f"build_wheelhouse: release {args.version} is not cached in {args.cache_root} and the "
                             f"project at {args.project} is version {version}: check out that release's source")
        out = args.cache_root / f"{version}-{args.arch}-cp{pyver}"
        deps_key = hashlib.sha256(json.dumps({
            "requires": requires, "extras": args.extras, "arch": args.arch, "python": pyver,
            "constraints": constraints.read_text() if constraints else "", "index": args.index_url,
        }, sort_keys=True).encode()).hexdigest()
        complete = out / ".complete"
        old_wheel = out / built.name
        same_deps = complete.is_file() and complete.read_text().strip() == deps_key and not args.rebuild
        tar_ok = out.with_name(out.name + ".tar").is_file()
        if same_deps and tar_ok and old_wheel.is_file() and sha256(old_wheel) == sha256(built):
            print(json.dumps({"changed": False, "version": version, "dir": str(out), "tar": f"{out}.tar",
                              "wheel": built.name}))
            return 0
        if same_deps:  # only the project changed (same version, new code): swap the wheel
            shutil.copy2(built, old_wheel)
        else:
            stage = Path(tmp) / "stage"
            stage.mkdir()
            shutil.copy2(built, stage / built.name)
            donor = None if args.rebuild else find_same_deps(args.cache_root, deps_key, exclude=out)
            if donor is not None:  # another release with the same requirements: reuse its dependency wheels
                skip = (donor / ".project").read_text().strip()
                for wheel in donor.glob("*.whl"):
                    if wheel.name != skip:
                        shutil.copy2(wheel, stage / wheel.name)
            spec = f"{stage / built.name}" + (f"[{args.extras}]" if args.extras else "")
            # the target may not be this machine: ask for binary wheels of its platform and Python
            dl = ["download", "--dest", str(stage), "--only-binary", ":all:",
                  "--python-version", args.python_version, "--implementation", "cp",
                  "--abi", f"cp{pyver}", "--abi", "abi3", "--abi", "none"]
            for tag in platform_tags(args.arch):
                dl += ["--platform", tag]
            if constraints:
                dl += ["--constraint", str(constraints)]
            if args.index_url:
                dl += ["--index-url", args.index_url]
            if donor is None:
                pip(*dl, spec)
            if out.exists():
                shutil.rmtree(out)
            shutil.move(str(stage), out)
            (out / ".complete").write_text(deps_key + "\n")
        (out / ".project").write_text(built.name + "\n")
        sums = "".join(f"{sha256(p)}  {p.name}\n" for p in sorted(out.glob("*.whl")))
        (out / "SHA256SUMS").write_text(sums)
        os.chmod(out, 0o755)
        write_tar(out)
    print(json.dumps({"changed": True, "version": version, "dir": str(out), "tar": f"{out}.tar",
                      "wheel": built.name}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
