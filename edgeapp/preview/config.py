"""The ``[preview]`` table: the optional live view served by the device itself.

Off by default and bound to loopback. Anything else exposes camera frames on the
network, so a token is then required: the service refuses to start without one
rather than serve people's images to whoever can reach the port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from edgeapp.settings import Problems
from edgeapp.errors import ConfigError

MIN_TOKEN_CHARS = 16  # a token guards camera images on a network: no short, guessable ones


@dataclass(frozen=True)
class PreviewConfig:
    enabled: bool = False
    host: str = "127.0.0.1"  # anything but loopback needs token or token_file
    port: int = 8080
    token: str = ""
    token_file: str = ""  # a file holding the token (kept out of a world-readable config)
    max_fps: float = 10.0  # stream rate cap: the preview never competes with inference for more than this
    jpeg_quality: int = 75
    stall_s: float = 5.0  # /healthz turns 503 when the frame loop has not turned for this long

    def check(self, problems: Problems) -> None:
        problems.require(bool(self.host.strip()), "host", "must not be empty")
        problems.require(0 <= self.port <= 65535, "port", f"must be 0..65535 (0: any free port), got {self.port}")
        problems.require(0 < self.max_fps <= 30, "max_fps", f"must be in (0, 30], got {self.max_fps}")
        problems.require(10 <= self.jpeg_quality <= 100, "jpeg_quality", f"must be 10..100, got {self.jpeg_quality}")
        problems.require(self.stall_s >= 1, "stall_s", "must be at least 1 second (the frame loop idles up to 0.5 s)")
        problems.require(not (self.token and self.token_file), "token", "set token or token_file, not both")
        if not self.enabled:
            return  # a disabled preview's token file need not exist on this machine
        try:
            token = self.resolve_token(problems.path)
        except ConfigError as exc:
            problems.errors.append(exc)
            return
        if token:
            problems.require(len(token) >= MIN_TOKEN_CHARS, "token_file" if self.token_file else "token",
                             f"must be at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 16`)")
        else:
            problems.require(self.loopback, "token", f"required when host is not loopback ({self.host!r} exposes "
                                                     "the camera on the network); set token or token_file")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def resolve_token(self, path: str = "preview") -> str:
        """The token, read from ``token_file`` when that is set; "" when there is none."""
        if not self.token_file:
            return self.token
        try:
            token = Path(self.token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{path}.token_file", f"cannot read {self.token_file}: {exc.strerror or exc}") from None
        if not token:
            raise ConfigError(f"{path}.token_file", f"{self.token_file} is empty")
        return token


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0/:: (every interface): treat as exposed
