"""The ``[mqtt]`` configuration table, validated strictly: a wrong key or value is a
ConfigError naming its dotted path, so a typo never silently becomes a default."""

from __future__ import annotations

import os
import re
import socket
import ssl
import stat
from dataclasses import dataclass, field
from pathlib import Path

from edgeapp.credentials import read_credential, read_secret
from edgeapp.errors import ConfigError
from edgeapp.preview.config import is_loopback
from edgeapp.settings import Problems

MIN_STATS_INTERVAL = 15.0  # as Frigate: more often only adds broker and database load
MAX_POSE_RATE = 30.0
NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")  # a Home Assistant node/object id, and one topic level


def default_device_id() -> str:
    """The host name's first label, made safe for a topic level and a Home Assistant id."""
    name = socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "edgeapp"


def outbox_path_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold a SQLite outbox, or None. A device or a pipe (``/dev/null``) would
    take every event and keep none, and SQLite would leave its lock and journal beside it. A
    directory at the path is not refused: it is damage the outbox moves aside at start."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            return f"{parent} is not a directory, so {path} cannot be created"
        return None
    except OSError as exc:
        return f"cannot use {path}: {exc.strerror or exc}"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return f"{path} is not a regular file (a device, pipe or socket keeps no events): give a file path"


@dataclass(frozen=True)
class MqttConfig:
    enabled: bool = True  # False: keep the table, send nothing
    host: str = "localhost"  # the broker
    port: int = 1883  # the broker's port
    client_id: str | None = None  # None: "edgeapp-<device_id>"
    topic_prefix: str = "edgeapp"  # topics are <topic_prefix>/<device_id>/...
    device_id: str = field(default_factory=default_device_id)  # a topic level and HA id; default: host name
    keepalive: int = 60  # seconds
    qos: int = 1  # 0, 1 or 2
    username: str | None = None  # None: anonymous
    # The password itself is never part of the config (and so never logged or printed):
    # only where to read it from.
    password_file: str | None = None  # a file holding the broker password
    password_env: str | None = None  # or the environment variable holding it
    password_credential: str | None = None  # or a systemd credential (LoadCredential=NAME in the unit)
    allow_plain_password: bool = False  # a password in clear text to a non-loopback broker is refused without it
    tls: bool = False  # also on when tls_ca is set; without tls_ca the system CAs are used
    tls_ca: str | None = None  # CA file; None: the system's CAs
    tls_cert: str | None = None  # client certificate (with tls_key)
    tls_key: str | None = None  # client key (with tls_cert)
    tls_check_hostname: bool = True  # check the broker's name against its certificate
    outbox_path: str = ""  # the SQLite outbox; "": outbox.sqlite3 in service.state_dir
    outbox_max_rows: int = 100_000  # beyond this the oldest events are dropped (and counted)
    outbox_max_bytes: int = 64 * 1024 * 1024  # beyond this the oldest events are dropped (and counted)
    handoff_queue: int = 1024  # events waiting for the publisher thread; more are dropped, never blocking a frame
    inflight: int = 20  # messages sent but not yet acknowledged
    stats_interval: float = 60.0  # seconds between stats events, at least 15
    pose_rate: float = 2.0  # pose events per second at most; 0: only when a person appears or leaves
    reconnect_min: float = 1.0  # seconds between reconnects, doubling up to reconnect_max
    reconnect_max: float = 60.0  # seconds
    discovery: bool = False  # Home Assistant MQTT discovery
    discovery_prefix: str = "homeassistant"  # Home Assistant's discovery topic prefix

    def check(self, problems: Problems) -> None:
        for key, message in self._problems():
            problems.add(key, message)
        with problems.collecting():
            self.password(problems.path)  # unreadable password sources fail at startup, not at the first connect

    @property
    def effective_client_id(self) -> str:
        return self.client_id or f"edgeapp-{self.device_id}"

    @property
    def use_tls(self) -> bool:
        return self.tls or self.tls_ca is not None

    def password(self, path: str = "mqtt") -> str | None:
        """Read at connect time, so a rotated password file is picked up on the next reconnect."""
        if self.password_file:
            return read_secret(self.password_file, f"{path}.password_file")
        if self.password_credential:
            return read_credential(self.password_credential, f"{path}.password_credential")
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"{path}.password_env", f"environment variable {self.password_env} is not set")
            return value
        return None

    def validate(self, path: str = "mqtt") -> None:
        """:meth:`check` for a config built in code rather than read (the bench, tests)."""
        problems = Problems(path)
        self.check(problems)
        problems.raise_any()

    def _problems(self):
        if not self.host:
            yield "host", "must not be empty"
        if not 1 <= self.port <= 65535:
            yield "port", f"must be 1..65535, got {self.port}"
        for key in ("topic_prefix", "discovery_prefix"):
            value = getattr(self, key)
            if not value or any(c in value for c in "+#\0") or "//" in value or value.startswith("/") or value.endswith("/"):
                yield key, f"must be topic levels without wildcards or empty levels, got {value!r}"
        if not NAME_RE.match(self.device_id):
            yield "device_id", f"must be letters, digits, _ or - (one topic level), got {self.device_id!r}"
        if not 5 <= self.keepalive <= 3600:
            yield "keepalive", f"must be 5..3600 seconds, got {self.keepalive}"
        if self.qos not in (0, 1, 2):
            yield "qos", f"must be 0, 1 or 2, got {self.qos}"
        sources = [k for k in ("password_file", "password_env", "password_credential") if getattr(self, k)]
        if len(sources) > 1:
            yield sources[1], f"set one of password_file, password_env and password_credential, not {' and '.join(sources)}"
        if sources and not self.username:
            yield "username", "is required when a password is configured"
        if sources and not self.use_tls and not is_loopback(self.host) and not self.allow_plain_password:
            yield "tls", (f"a password would cross the network to {self.host} in clear text: turn TLS on "
                          "(tls = true or tls_ca), or set allow_plain_password = true if that is really meant")
        for key in ("tls_ca", "tls_cert", "tls_key"):  # password_file: read by check(), one error
            value = getattr(self, key)
            if value is not None and not Path(value).is_file():
                yield key, f"file not found: {value}"
        if self.tls_ca is not None and Path(self.tls_ca).is_file() and (why := ca_file_problem(self.tls_ca)):
            yield "tls_ca", why
        if self.outbox_path and (why := outbox_path_problem(Path(self.outbox_path))):
            yield "outbox_path", why
        if (self.tls_cert is None) != (self.tls_key is None):
            yield "tls_key" if self.tls_key is None else "tls_cert", "tls_cert and tls_key go together"
        if (self.tls_cert or not self.tls_check_hostname) and not self.use_tls:
            yield "tls", "TLS options are set but TLS is off (set tls = true or tls_ca)"
        for key, low in (("outbox_max_rows", 10), ("outbox_max_bytes", 64 * 1024), ("handoff_queue", 1),
                         ("inflight", 1)):
            if getattr(self, key) < low:
                yield key, f"must be at least {low}, got {getattr(self, key)}"
        if self.inflight > 1000:
            yield "inflight", f"must be at most 1000, got {self.inflight}"
        if not MIN_STATS_INTERVAL <= self.stats_interval <= 86400:
            yield "stats_interval", f"must be {MIN_STATS_INTERVAL:g}..86400 seconds, got {self.stats_interval}"
        if not 0 <= self.pose_rate <= MAX_POSE_RATE:
            yield "pose_rate", f"must be 0..{MAX_POSE_RATE:g} events per second, got {self.pose_rate}"
        if not 0.05 <= self.reconnect_min <= 60:
            yield "reconnect_min", f"must be 0.05..60 seconds, got {self.reconnect_min}"
        if not self.reconnect_min <= self.reconnect_max <= 3600:
            yield "reconnect_max", f"must be reconnect_min..3600 seconds, got {self.reconnect_max}"


def ca_file_problem(path: str) -> str:
    """Why ``path`` cannot be the CA bundle a TLS connection trusts ("" when it can): found now, not as
    OpenSSL's bare ``[X509: NO_CERTIFICATE_OR_CRL_FOUND]`` at the first connect."""
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"{path} is not a PEM CA certificate (bundle) the broker's certificate can be checked against: {exc}"
    return ""
