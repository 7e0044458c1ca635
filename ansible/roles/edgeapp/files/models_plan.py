#!/usr/bin/env python3
"""Check the controller's model cache and say which files to push (run on the controller by the edgeapp role).

    models_plan.py --manifest models/manifest.toml --cache models/ NAME...

For each model name (plus the labels it names) print the file, its size and its sha256 as one JSON document, after
checking the cached file against the manifest's sha256 (or, for entries whose sha256 the manifest leaves empty, the
``recorded-sha256.json`` that ``edgeapp models pull`` keeps). A missing or mismatching file is an error that says how
to fill the cache: ``edgeapp models import DIR`` or ``edgeapp models pull NAME``. Nothing is downloaded here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from build_wheelhouse import sha256  # beside this file; both run standalone on the controller

RECORDED = "recorded-sha256.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True, type=Path)
    ap.add_argument("--cache", required=True, type=Path)
    ap.add_argument("names", nargs="*")
    args = ap.parse_args(argv)

    data = tomllib.loads(args.manifest.read_text())
    entries = {**data.get("models", {}), **data.get("labels", {})}
    try:
        recorded = json.loads((args.cache / RECORDED).read_text())
    except FileNotFoundError:
        recorded = {}
    wanted: list[str] = []
    for name in args.names:
        if name not in entries:
            sys.exit(f"models_plan: unknown model {name!r}; the manifest knows: {', '.join(sorted(entries))}")
        for n in (name, entries[name].get("labels", "")):
            if n and n not in wanted:
                wanted.append(n)
    files, problems = [], []
    for name in wanted:
        entry = entries[name]
        path = args.cache / entry["file"]
        expected = entry.get("sha256") or recorded.get(name, "")
        if not path.is_file():
            problems.append(f"{name}: {path} is missing (fill the cache: `edgeapp models import DIR` "
                            f"or `edgeapp models pull {name}` with EDGEAPP_MODELS_DIR={args.cache})")
            continue
        actual = sha256(path)
        if not expected:
            problems.append(f"{name}: no sha256 in the manifest nor in {args.cache / RECORDED}: "
                            f"run `edgeapp models verify` / `pull` on the controller first")
        elif actual != expected:
            problems.append(f"{name}: {path} has sha256 {actual}, expected {expected}")
        files.append({"name": name, "file": entry["file"], "sha256": actual, "src": str(path),
                      "size": path.stat().st_size, "recorded": not entry.get("sha256")})
    if problems:
        sys.exit("models_plan: the controller's model cache is not ready:\n  " + "\n  ".join(problems))
    recorded_out = {f["name"]: f["sha256"] for f in files if f["recorded"]}
    print(json.dumps({"files": files, "recorded": recorded_out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
