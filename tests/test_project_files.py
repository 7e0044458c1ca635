"""What a newcomer reads before running anything: URLs that exist, the licence, one version."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from support.shared import REPO

import edgeapp

SHIPPED = ["pyproject.toml", "systemd", "edgeapp", "ansible/roles", "README.md", "docs"]


def test_no_placeholder_urls_in_what_ships():
    found = []
    for top in SHIPPED:
        root = REPO / top
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            if path.suffix in (".pyc", ".tflite", ".jpg", ".png"):
                continue
            text = path.read_text(errors="replace")
            found += [f"{path.relative_to(REPO)}: {m}" for m in re.findall(r"https?://[^\s\"']*\.invalid\S*", text)]
    assert not found, found


def test_licence_file_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_the_version_is_written_in_one_place():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "edgeapp/__init__.py"
    r = subprocess.run([sys.executable, "-m", "edgeapp", "--version"], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == f"edgeapp {edgeapp.__version__}"
