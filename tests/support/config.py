"""Writing service configs for tests that start ``edgeapp run`` as a real process."""

from __future__ import annotations

import json
from pathlib import Path


def write_config(path: Path, **tables) -> Path:
    """A TOML file with one table per keyword: ``write_config(p, source={"uri": ...}, mqtt={...})``.
    JSON's strings, numbers, booleans and lists are valid TOML values."""
    lines = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
