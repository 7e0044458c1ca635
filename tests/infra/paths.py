"""Where the infrastructure caches things between runs."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """``$EDGEAPP_TEST_CACHE`` or ``~/.cache/edgeapp-tests``: debootstrap tarballs, wheelhouses, locks."""
    d = Path(os.environ.get("EDGEAPP_TEST_CACHE") or Path.home() / ".cache" / "edgeapp-tests")
    d.mkdir(parents=True, exist_ok=True)
    return d
