"""Shared fixtures. Paths to the shared data live in support/shared.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """An empty models directory for registry tests."""
    d = tmp_path / "models"
    d.mkdir()
    return d
