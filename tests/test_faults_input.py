"""Bad files and weak secrets: a message naming the file or key, the right exit status, no traceback.

Non-UTF-8 (Latin-1) config, password file, token file and labels file; a blank token; a password
file every user can read; a password in clear text over the network; a credential without systemd.
Each runs the real CLI (``edgeapp config check`` / ``run``) as a process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.config import write_config
from support.shared import CLASSIFIER, MODELS, VIDEO
from edgeapp.errors import EXIT_CONFIG

LATIN1 = "Passwort für die Küche\n".encode("latin-1")
CLIP = str(VIDEO / "opencv_vtest_30s_h264.mp4")


def edgeapp(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeapp", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def check(cfg: Path, **env) -> subprocess.CompletedProcess:
    return edgeapp("config", "check", str(cfg), env=env)


def assert_refused(r: subprocess.CompletedProcess, status: int, *words: str) -> None:
    assert r.returncode == status, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    for word in words:
        assert word in r.stderr, (word, r.stderr)


def test_a_latin1_config_is_a_config_error_naming_the_file(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(b'[source]\nuri = "k\xfcche.mp4"\n')
    assert_refused(check(cfg), EXIT_CONFIG, str(cfg), "not UTF-8", "line 2")
    assert_refused(edgeapp("run", "--config", str(cfg)), EXIT_CONFIG, str(cfg), "not UTF-8")


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path):
    cfg = write_config(tmp_path / "config.toml", source={"uri": CLIP})
    cfg.write_bytes("\ufeff".encode() + cfg.read_bytes())  # as Notepad's "UTF-8 with BOM" saves it
    r = check(cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


def test_a_latin1_password_file(tmp_path):
    pw = tmp_path / "pw"
    pw.write_bytes(LATIN1)
    pw.chmod(0o640)
    cfg = write_config(tmp_path / "c.toml", mqtt={"host": "127.0.0.1", "username": "u", "password_file": str(pw)})
    assert_refused(check(cfg), EXIT_CONFIG, "mqtt.password_file", str(pw), "not UTF-8")


def test_a_latin1_token_file(tmp_path):
    token = tmp_path / "token"
    token.write_bytes(b"0123456789abcdef-\xe9t\xe9\n")
    token.chmod(0o600)
    cfg = write_config(tmp_path / "c.toml", preview={"enabled": True, "token_file": str(token)})
    assert_refused(check(cfg), EXIT_CONFIG, "preview.token_file", str(token), "not UTF-8")


def test_a_latin1_labels_file(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_bytes("chair\ncobra\ndog\nk\xf6nig\ntree\n".encode("latin-1"))
    cfg = write_config(tmp_path / "c.toml", source={"uri": CLIP}, tasks={"pose": True, "classify": True},
                       runtime={"models_dir": str(MODELS)},
                       classify={"model": str(CLASSIFIER), "labels": str(labels)})
    # The config names the labels file: a config error naming the key, found by the check before a start too.
    for r in (edgeapp("run", "--config", str(cfg), "--max-frames", "1"), check(cfg)):
        assert_refused(r, EXIT_CONFIG, "config classify.labels:", str(labels), "not UTF-8")


def test_a_blank_token_is_refused(tmp_path):
    cfg = write_config(tmp_path / "c.toml", preview={"enabled": True, "token": " " * 16})
    assert_refused(check(cfg), EXIT_CONFIG, "preview.token", "blank")
    token = tmp_path / "token"
    token.write_text(" " * 16 + "\n")
    cfg = write_config(tmp_path / "c2.toml", preview={"enabled": True, "token_file": str(token)})
    assert_refused(check(cfg), EXIT_CONFIG, "preview.token_file", "empty")


def test_a_world_readable_password_file_is_named_in_a_warning(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    pw.chmod(0o644)
    cfg = write_config(tmp_path / "c.toml", mqtt={"host": "127.0.0.1", "username": "u", "password_file": str(pw)})
    r = check(cfg)
    assert r.returncode == 0 and "WARNING" in r.stderr and str(pw) in r.stderr and "every user" in r.stderr, r.stderr
    pw.chmod(0o640)
    r = check(cfg)
    assert r.returncode == 0 and "WARNING" not in r.stderr, r.stderr


def test_a_password_in_clear_over_the_network_is_refused_unless_allowed(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    pw.chmod(0o600)
    mqtt = {"host": "broker.lan", "username": "u", "password_file": str(pw)}
    assert_refused(check(write_config(tmp_path / "a.toml", mqtt=mqtt)), EXIT_CONFIG, "mqtt.tls", "clear text")
    assert check(write_config(tmp_path / "b.toml", mqtt={**mqtt, "allow_plain_password": True})).returncode == 0
    assert check(write_config(tmp_path / "c.toml", mqtt={**mqtt, "tls": True})).returncode == 0
    assert check(write_config(tmp_path / "d.toml", mqtt={**mqtt, "host": "127.0.0.1"})).returncode == 0


def test_a_credential_needs_systemd_s_directory(tmp_path):
    name = f"edgeapp-test-{os.getpid()}"  # in no credential store of any machine
    cfg = write_config(tmp_path / "c.toml", mqtt={"host": "127.0.0.1", "username": "u", "password_credential": name})
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    r = subprocess.run([sys.executable, "-m", "edgeapp", "config", "check", str(cfg)], capture_output=True, text=True,
                       timeout=60, env=env)
    assert_refused(r, EXIT_CONFIG, "mqtt.password_credential", f"LoadCredential={name}", "/etc/credstore")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / name).write_text("s3cret")
    assert check(cfg, CREDENTIALS_DIRECTORY=str(creds)).returncode == 0


def test_a_credential_systemd_did_not_pass_says_where_it_belongs(tmp_path):
    # LoadCredential= skips a name missing from /etc/credstore: the directory is there, the file is not
    name = f"edgeapp-test-{os.getpid()}"
    cfg = write_config(tmp_path / "c.toml", mqtt={"host": "127.0.0.1", "username": "u", "password_credential": name})
    creds = tmp_path / "creds"
    creds.mkdir()
    r = check(cfg, CREDENTIALS_DIRECTORY=str(creds))
    assert_refused(r, EXIT_CONFIG, "mqtt.password_credential", f"cannot read {creds / name}",
                   f"/etc/credstore/{name} (root, 0600)", f"LoadCredential={name}")
    (creds / name).write_text("\n")
    r = check(cfg, CREDENTIALS_DIRECTORY=str(creds))
    assert_refused(r, EXIT_CONFIG, "is empty")
    assert "LoadCredential" not in r.stderr  # systemd did pass it: the content is what is wrong


# -- cam2 item 4: a JPEG cut short is skipped, named, not decoded as grey ------------------------------------------

def test_a_truncated_jpeg_is_skipped_naming_the_file(tmp_path, capfd, caplog):
    from support.shared import IMAGES
    from edgeapp.camera.files import open_source

    photo = (IMAGES / "kite_and_cold.jpg").read_bytes()
    (tmp_path / "a_cut.jpg").write_bytes(photo[: len(photo) // 3])  # a copy that stopped a third of the way
    (tmp_path / "b_whole.jpg").write_bytes(photo)
    source = open_source(tmp_path)
    frames = list(source.frames())
    assert [Path(f.source).name for f in frames] == ["b_whole.jpg"]
    assert [(p.name, "cut short" in why) for p, why in source.skipped] == [("a_cut.jpg", True)]
    assert any("skipping" in r.getMessage() and "a_cut.jpg" in r.getMessage() for r in caplog.records)
    assert "Premature end of JPEG" not in capfd.readouterr().err  # libjpeg's raw line: it is never decoded


def test_every_whole_shared_jpeg_is_read():
    from support.shared import DATA
    from edgeapp.camera.files import jpeg_is_whole

    photos = [p for p in DATA.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")]
    assert photos and [p for p in photos if not jpeg_is_whole(p.read_bytes())] == []
