"""``edgeapp models list | pull | verify | import``."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from edgeapp.cli.common import registry
from edgeapp.errors import EXIT_FAILURE, ModelError


def register(cli) -> None:
    group = "models"
    cli.group(group, "the model registry: list, download, verify, import")
    p = cli.add(group, "list", "known models, their tasks, and whether their files are here")
    p.set_defaults(func=run_list)
    p = cli.add(group, "pull", "download models from their publishers, verify, and install atomically")
    p.add_argument("names", nargs="*", help="models to pull (default: every model not yet here)")
    p.add_argument("--mirror", default=None, help="fetch MIRROR/<file> instead of the publisher's URL")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_pull)
    p = cli.add(group, "verify", "check every present file against its sha256")
    p.add_argument("names", nargs="*")
    p.set_defaults(func=run_verify)
    p = cli.add(group, "import", "copy known model files from a local folder (offline sites) and verify them")
    p.add_argument("folder")
    p.add_argument("names", nargs="*")
    p.set_defaults(func=run_import)
    for sub in ("list", "pull", "verify", "import"):
        cli.group(group).choices[sub].add_argument("--models-dir", default=None, help="where model files live")


def run_list(args: argparse.Namespace) -> int:
    reg = registry(args)
    print(f"models dir: {reg.models_dir}")
    for name, e in sorted(reg.entries.items()):
        here = "present" if reg.path(name).is_file() else "absent"
        extra = f" edgetpu={e.edgetpu}" if e.edgetpu else (" (Edge TPU build)" if e.cpu else "")
        kind = e.task or e.kind
        print(f"{name:34} {kind:9} {e.precision or '-':5} {here:8} {e.license:11}{extra}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    reg = registry(args)
    names = args.names or [n for n in reg.downloadable() if not reg.path(n).is_file()]
    failed = 0
    for name in names:
        bar = None if args.no_progress else tqdm(desc=name, unit="B", unit_scale=True, file=sys.stderr, leave=False)

        def progress(n: int, total: int | None, bar=bar) -> None:
            if bar is not None:
                if total and bar.total != total:
                    bar.total = total
                bar.update(n)

        try:
            path = reg.pull(name, mirror=args.mirror, progress=progress)
            print(f"{name}: installed {path}")
        except ModelError as exc:
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            failed += 1
        finally:
            if bar is not None:
                bar.close()
    return EXIT_FAILURE if failed else 0


def run_verify(args: argparse.Namespace) -> int:
    reg = registry(args)
    verdicts = reg.verify(args.names or None)
    bad = 0
    for v in verdicts:
        print(f"{v.artifact.name:34} {v.status}")
        # an absent model is fine unless it was asked for by name
        if v.status == "mismatch" or (args.names and v.status == "missing"):
            bad += 1
    return EXIT_FAILURE if bad else 0


def run_import(args: argparse.Namespace) -> int:
    reg = registry(args)
    results = reg.import_dir(args.folder, args.names or None)
    for name, status in results:
        print(f"{name:34} {status}")
    rejected = [r for r in results if r[1].startswith("rejected") or (args.names and r[1] == "not found")]
    return EXIT_FAILURE if rejected else 0
