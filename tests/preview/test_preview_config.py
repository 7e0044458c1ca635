"""[preview]: off and on loopback by default; exposed only with a token; errors name the key."""

from __future__ import annotations

import pytest

from edgeapp.config import AppConfig
from edgeapp.errors import ConfigError
from edgeapp.preview.config import PreviewConfig, is_loopback
from edgeapp.settings import read

TOKEN = "0123456789abcdef0123"


def load(**preview) -> PreviewConfig:
    return read(AppConfig, {"preview": preview}).preview


def test_defaults_are_off_and_local():
    c = read(AppConfig, {}).preview
    assert c == PreviewConfig() and not c.enabled and c.host == "127.0.0.1" and c.loopback
    assert c.max_fps == 10.0 and c.token == ""


@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("127.0.1.1", True), ("::1", True),
                                        ("localhost", True), ("0.0.0.0", False), ("::", False),
                                        ("192.168.1.20", False), ("kiosk.local", False)])
def test_loopback(host, loop):
    assert is_loopback(host) is loop


def test_exposed_without_token_is_refused_naming_the_key():
    with pytest.raises(ConfigError) as e:
        load(enabled=True, host="0.0.0.0")
    assert e.value.path == "preview.token" and "not loopback" in e.value.message


def test_exposed_with_token_or_token_file(tmp_path):
    assert load(enabled=True, host="0.0.0.0", token=TOKEN).resolve_token() == TOKEN
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    assert load(enabled=True, host="0.0.0.0", token_file=str(f)).resolve_token() == TOKEN
    # A disabled preview does not care whether the exposed host has a token yet.
    assert not load(enabled=False, host="0.0.0.0").enabled


@pytest.mark.parametrize("table, path", [
    ({"port": 70000}, "preview.port"),
    ({"max_fps": 0}, "preview.max_fps"),
    ({"max_fps": 100}, "preview.max_fps"),
    ({"jpeg_quality": 5}, "preview.jpeg_quality"),
    ({"stall_s": 0.5}, "preview.stall_s"),
    ({"enabled": True, "token": "short"}, "preview.token"),
    ({"token": TOKEN, "token_file": "/x"}, "preview.token"),
    ({"enabled": True, "token_file": "/nonexistent/token"}, "preview.token_file"),
    ({"enabled": "yes"}, "preview.enabled"),
    ({"prot": 8080}, "preview.prot"),
])
def test_bad_values_name_the_key(table, path):
    with pytest.raises(ConfigError) as e:
        load(**table)
    assert e.value.path == path, e.value
