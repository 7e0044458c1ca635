"""TLS with a self-signed CA made here, and a mosquitto password file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support.pki import make_ca
from edgeapp.bench.mqtt import LocalMosquitto
from edgeapp.events import ErrorEvent

from .conftest import WAIT_S, run

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other-ca")  # trusted by nobody: the "wrong CA"
    run(["openssl", "req", *EC, "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"), "-subj", "/CN=broker"])
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run(["openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
         "-CAcreateserial", "-out", str(d / "server.crt"), "-days", "2", "-extfile", str(d / "san.ext")])
    run(["mosquitto_passwd", "-b", "-c", str(d / "passwd"), "edgeapp", "s3cret"])
    (d / "good.pw").write_text("s3cret\n")
    (d / "bad.pw").write_text("guess\n")
    return d


@pytest.fixture
def tls_broker(tmp_path, pki):
    b = LocalMosquitto(tmp_path / "tls-broker", anonymous=False, extra=(
        f"cafile {pki / 'ca.crt'}", f"certfile {pki / 'server.crt'}", f"keyfile {pki / 'server.key'}",
        f"password_file {pki / 'passwd'}")).start()
    yield b
    b.stop()


def secure(make_config, port, pki, password="good.pw", ca="ca.crt"):
    return make_config(port, username="edgeapp", password_file=str(pki / password), tls_ca=str(pki / ca))


def wait_for_error(pub) -> str:
    """The connection error the publisher reports, once it has one (it never connects)."""
    deadline = time.monotonic() + WAIT_S
    while not pub.stats().last_error and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pub.stats().connected
    return pub.stats().last_error or ""


def test_tls_with_a_password_file_delivers(tls_broker, pki, make_config, publishers):
    pub = publishers(secure(make_config, tls_broker.port, pki))
    assert pub.wait_connected(WAIT_S), pub.stats().last_error
    assert pub.publish(ErrorEvent(source="test", message="over TLS"))
    assert pub.drain(WAIT_S)
    assert pub.stats().delivered == 1


def test_wrong_password_fails_with_a_clear_error(tls_broker, pki, make_config, publishers):
    pub = publishers(secure(make_config, tls_broker.port, pki, password="bad.pw"))
    error = wait_for_error(pub)
    assert "refused the connection: Not authorized" in error and "mqtt.username" in error
    assert "guess" not in error


def test_wrong_ca_fails_with_a_clear_error(tls_broker, pki, make_config, publishers):
    pub = publishers(secure(make_config, tls_broker.port, pki, ca="other-ca.crt"))
    error = wait_for_error(pub)
    assert error.startswith(f"TLS certificate of 127.0.0.1:{tls_broker.port} not trusted") and "mqtt.tls_ca" in error


def test_plain_tcp_to_a_tls_port_fails_and_keeps_events(tls_broker, pki, make_config, publishers):
    pub = publishers(make_config(tls_broker.port, username="edgeapp", password_file=str(pki / "good.pw")))
    assert pub.publish(ErrorEvent(source="test", message="kept"))
    assert pub.flush(WAIT_S)
    assert wait_for_error(pub) and pub.stats().outbox_depth == 1


def test_a_systemd_credential_carries_the_password(tls_broker, pki, make_config, publishers, tmp_path, monkeypatch):
    """What LoadCredential=edgeapp-mqtt-password gives the service: $CREDENTIALS_DIRECTORY/<name>."""
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "edgeapp-mqtt-password").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = make_config(tls_broker.port, username="edgeapp", password_credential="edgeapp-mqtt-password",
                         tls_ca=str(pki / "ca.crt"))
    pub = publishers(config)
    assert pub.wait_connected(WAIT_S), pub.stats().last_error
