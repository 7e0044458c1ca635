"""A throwaway CA certificate made with openssl, for configs whose ``mqtt.tls_ca`` must be a real one."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_ca(d: Path, name: str = "ca") -> Path:
    """``<name>.crt`` (and its key) in ``d``: a self-signed EC CA valid for two days."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.crt"), "-days", "2",
                    "-subj", f"/CN=edgeapp test {name}"], check=True, capture_output=True, timeout=60)
    return d / f"{name}.crt"
