"""Secrets the config points at: a file (``password_file``, ``token_file``) or a systemd credential.

A credential (``password_credential = "edgeapp-mqtt-password"``) is read from
``$CREDENTIALS_DIRECTORY``, where systemd puts what the unit's ``LoadCredential=`` lines load from
``/etc/credstore/`` (root-only, outside the service's view of the filesystem); outside systemd the
credential store itself is read (root only). Every problem is a
``ConfigError`` naming the key and the file: unreadable, not UTF-8, empty or only whitespace.
A secret file that every user may read is allowed, with a warning naming it.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from pathlib import Path

from edgeapp.errors import ConfigError

log = logging.getLogger(__name__)

CREDSTORE_DIRS = ("/etc/credstore", "/run/credstore", "/usr/lib/credstore")  # LoadCredential=NAME searches these


def credential_path(name: str, key: str) -> Path:
    """Under systemd: ``$CREDENTIALS_DIRECTORY/name``. Elsewhere (``edgeapp config check`` or
    ``doctor`` run by root) the credential store systemd itself reads, where the file is."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        return Path(directory) / name
    for store in CREDSTORE_DIRS:
        path = Path(store) / name
        try:
            path.stat()
        except PermissionError:
            return path  # the root-only store, looked at by another user: reading it says so
        except OSError:
            continue
        return path
    raise ConfigError(key, f"credential {name!r} not found: $CREDENTIALS_DIRECTORY is not set (the unit's "
                           f"LoadCredential={name} sets it) and {name} is in none of {', '.join(CREDSTORE_DIRS)}")


def read_credential(name: str, key: str) -> str:
    """The systemd credential ``name``, stripped; a credential systemd did not hand over says where it should be."""
    path = credential_path(name, key)
    try:
        return read_secret(path, key)
    except ConfigError as exc:
        if os.access(path, os.R_OK):
            raise  # read, but empty or not UTF-8: the message says so
        if not os.environ.get("CREDENTIALS_DIRECTORY"):  # the root-only store, read by another user
            raise ConfigError(key, f"{exc.message}; the credential store is root's: run this as root") from None
        # LoadCredential= skips a missing /etc/credstore file; an unreadable directory means systemd did not set it up
        raise ConfigError(key, f"{exc.message}; systemd did not pass credential {name!r}: put it in "
                               f"/etc/credstore/{name} (root, 0600) and keep LoadCredential={name} in the unit") from None


def read_secret(path: str | Path, key: str) -> str:
    """The secret in ``path``, stripped. Raises ConfigError naming ``key`` and the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(key, f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    secret = text.strip()
    if not secret:
        raise ConfigError(key, f"{path} is empty (or only whitespace)")
    if mode & stat.S_IROTH:
        log.warning("%s (%s) can be read by every user on this machine; chmod o-r it", path, key)
    return secret


def read_text_file(path: str | Path, what: str) -> str:
    """A text file a user gave us (a config, a labels list): UTF-8, or a ConfigError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("", f"{what} not found: {path}") from None
    except OSError as exc:
        raise ConfigError("", f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # -sig: a Windows editor's byte-order mark is not part of the text
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError("", f"{what} {path} is not UTF-8 text (line {line}, byte {exc.start}); "
                              "save it as UTF-8") from None


def read_toml_file(path: str | Path, what: str) -> dict:
    """A TOML file a user gave us (a config, a manifest), read as :func:`read_text_file` reads text."""
    text = read_text_file(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{path} is not valid TOML: {exc}") from None

