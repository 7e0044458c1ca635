"""README's code layout table names paths that exist, and every package and top-level module of edgeapp/."""

from __future__ import annotations

import re

from support.shared import REPO


def layout_paths() -> set[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Code layout\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {path for row in rows for path in re.findall(r"`([^`]+)`", row.split(" | ")[0])}


def test_every_listed_path_exists():
    paths = layout_paths()
    assert len(paths) > 10
    assert [p for p in sorted(paths) if not (REPO / p).exists()] == []


def test_every_package_and_top_level_module_is_listed():
    paths = layout_paths()
    edgeapp = REPO / "edgeapp"
    wanted = {f"edgeapp/{d.name}/" for d in edgeapp.iterdir() if (d / "__init__.py").is_file()}
    wanted |= {f"edgeapp/{f.name}" for f in edgeapp.glob("*.py") if f.name not in ("__init__.py", "__main__.py")}
    assert sorted(wanted - paths) == []
