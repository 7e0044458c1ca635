"""The ``[preview]`` table: the optional live view served by the device itself.

Off by default and bound to loopback. Anything else exposes camera frames on the
network, so a token is then required: the service refuses to start without one
rather than serve people's images to whoever can reach the port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from edgeapp.credentials import read_credential, read_secret
from edgeapp.settings import Problems
from edgeapp.errors import ConfigError

MIN_TOKEN_CHARS = 16  # a token guards camera images on a network: no short, guessable ones


@dataclass(frozen=True)
class PreviewConfig:
    enabled: bool = False  # serve the preview
    host: str = "127.0.0.1"  # anything but loopback needs token or token_file
    port: int = 8080  # 0: any free port
    token: str = ""  # ?token=... or Authorization: Bearer ...; at least 16 characters
    token_file: str = ""  # a file holding the token (kept out of a world-readable config)
    token_credential: str = ""  # a systemd credential holding the token (LoadCredential=NAME in the unit)
    max_fps: float = 10.0  # stream rate cap: the preview never competes with inference for more than this
    jpeg_quality: int = 75  # of the stream and of MQTT snapshots
    stall_s: float = 5.0  # /healthz turns 503 when the frame loop has not turned for this long
    # Slow clients: a request head must arrive within header_timeout_s; at most max_connections at once
    # (fewer if the file handle limit is lower: the unit's LimitNOFILE=8192 leaves room for these).
    header_timeout_s: float = 5.0  # seconds a client may take to send its request head
    max_connections: int = 2048  # open connections at most (fewer if the file handle limit is lower)

    def check(self, problems: Problems) -> None:
        problems.require(bool(self.host.strip()), "host", "must not be empty")
        problems.require(0 <= self.port <= 65535, "port", f"must be 0..65535 (0: any free port), got {self.port}")
        problems.require(0 < self.max_fps <= 30, "max_fps", f"must be in (0, 30], got {self.max_fps}")
        problems.require(10 <= self.jpeg_quality <= 100, "jpeg_quality", f"must be 10..100, got {self.jpeg_quality}")
        problems.require(0.5 <= self.header_timeout_s <= 60, "header_timeout_s",
                         f"must be 0.5..60 seconds, got {self.header_timeout_s}")
        problems.require(4 <= self.max_connections <= 8192, "max_connections",
                         f"must be 4..8192, got {self.max_connections}")
        problems.require(self.stall_s >= 1, "stall_s", "must be at least 1 second (the frame loop idles up to 0.5 s)")
        given = [k for k in ("token", "token_file", "token_credential") if getattr(self, k)]
        problems.require(len(given) <= 1, given[0] if given else "token",
                         f"set one of token, token_file and token_credential, not {' and '.join(given)}")
        problems.require(not self.token or bool(self.token.strip()), "token", "must not be blank")
        if not self.enabled:
            return  # a disabled preview's token file need not exist on this machine
        with problems.collecting():  # a token file that cannot be read is one more error, not the end of the read
            token = self.resolve_token(problems.path)
            if token:
                problems.require(len(token) >= MIN_TOKEN_CHARS, given[0],
                                 f"must be at least {MIN_TOKEN_CHARS} characters, not counting blanks "
                                 "(e.g. `openssl rand -hex 16`)")
            else:
                problems.require(self.loopback, "token", f"required when host is not loopback ({self.host!r} "
                                                         "exposes the camera on the network); set token or token_file")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def resolve_token(self, path: str = "preview") -> str:
        """The token, read from ``token_file`` or the credential when set; "" when there is none."""
        if self.token_file:
            return read_secret(self.token_file, f"{path}.token_file")
        if self.token_credential:
            return read_credential(self.token_credential, f"{path}.token_credential")
        return self.token.strip()


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0/:: (every interface): treat as exposed
