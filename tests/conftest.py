"""Shared fixtures. Paths to the shared data live in support/shared.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.shared import DATA


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """An empty models directory for registry tests."""
    d = tmp_path / "models"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def cpu_request():
    from edgeapp.runtime.backend import BackendRequest

    return BackendRequest(kind="cpu", threads=2)
