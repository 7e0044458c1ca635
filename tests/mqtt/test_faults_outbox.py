"""A damaged, empty or vanished outbox: the device keeps working and seq is never reused.

Each kind of damage is done to a real outbox that a real publisher filled and a real broker
delivered; a second publisher then opens the same path. It must start, move the damaged file
aside (kept), report an error event, and continue above every seq the first one used: the seq
mark file beside the database (``outbox.sqlite3.seq``) is out of the damage's reach.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.config import write_config
from support.shared import MODELS, VIDEO
from edgeapp.errors import EXIT_CONFIG
from edgeapp.events import TrackingEvent
from edgeapp.mqtt.outbox import Outbox

from .conftest import WAIT_S, first_service_error

PAGE = 4096


def zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def moved_aside(path: Path) -> None:
    path.rename(path.with_name("operator-moved-it.sqlite3"))


def truncated(path: Path) -> None:
    os.truncate(path, PAGE + PAGE // 2)


def header_scribbled(path: Path) -> None:
    with open(path, "r+b") as f:
        f.write(os.urandom(100))


def page_scribbled(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(PAGE)  # page 2 onwards: the tables' b-trees
        f.write(os.urandom(PAGE * 2))


def not_a_database(path: Path) -> None:
    path.write_text("this is not sqlite\n" * 500)


def directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "something").write_text("x")


def dropped_table(path: Path) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("DROP TABLE meta")
    db.commit()
    db.close()


DAMAGE = [zero_bytes, moved_aside, truncated, header_scribbled, page_scribbled, not_a_database, directory,
          dropped_table]
KEPT = {truncated, header_scribbled, page_scribbled, not_a_database, directory}  # moved aside by the device


def fill_and_deliver(config, publishers, rec, n: int) -> int:
    p = publishers(config)
    assert p.wait_connected(WAIT_S)
    for i in range(n):
        assert p.publish(TrackingEvent(type="angles", pan=float(i), tilt=0.0, target="before"))
    assert p.drain(WAIT_S)
    last = p.outbox.last_seq
    p.close()
    rec.wait_for(lambda r: last in r.seqs(), what=f"seq {last}")
    return last


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda d: d.__name__)
def test_after_damage_the_publisher_starts_reports_it_and_never_reuses_a_seq(tmp_path, broker, recorders,
                                                                            make_config, publishers, damage):
    config = make_config(broker.port)
    path = Path(config.outbox_path)
    rec = recorders(broker.port, "edgeapp/dev1/events/#")
    before = fill_and_deliver(config, publishers, rec, 30)
    damage(path)

    p = publishers(config)
    assert p.publish(TrackingEvent(type="angles", pan=1.0, tilt=0.0, target="after"))
    rec.wait_for(lambda r: any(e.event.kind == "tracking" and e.event.target == "after" for e in r.events()),
                 what="an event after the damage")
    after = [e for e in rec.events() if e.seq > before]
    assert {e.seq for e in rec.events()} & set(range(1, before + 1)) == set(range(1, before + 1))
    assert all(e.event.target == "before" for e in rec.events() if e.event.kind == "tracking" and e.seq <= before)
    notice = [e for e in after if e.event.kind == "error" and e.event.source == "outbox"]
    assert len(notice) == 1, [e.event for e in after]
    assert str(path) in notice[0].event.message and "continues at seq" in notice[0].event.message
    assert min(e.seq for e in after) > before  # never reused
    kept = sorted(path.parent.glob(f"{path.name}.damaged-*"))
    if damage in KEPT:
        assert kept and notice[0].event.detail["moved_to"] == str(kept[0]), kept
    else:
        assert not kept
    print(f"\n{damage.__name__}: last seq before {before}, first after {min(e.seq for e in after)}; "
          f"{notice[0].event.message}")


def test_without_a_mark_file_an_old_outbox_gets_one(tmp_path):
    """Outboxes made before the mark existed: their own last seq is the starting point, and is covered."""
    box = Outbox(tmp_path / "o.db", 100, 10**6)
    box.append([lambda seq: ("t", b"x")] * 7)
    box.close()
    (tmp_path / "o.db.seq").unlink()
    box = Outbox(tmp_path / "o.db", 100, 10**6)
    assert box.recovered is None and box.last_seq == 7
    assert int((tmp_path / "o.db.seq").read_text().split()[1]) > 7
    box.close()


def test_a_directory_at_the_lock_path_is_a_config_error_naming_it(tmp_path):
    lock = tmp_path / "state" / "outbox.sqlite3.lock"
    lock.mkdir(parents=True)
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(VIDEO / "opencv_vtest_30s_h264.mp4")},
                       runtime={"models_dir": str(MODELS)},
                       mqtt={"host": "127.0.0.1", "port": 1, "outbox_path": str(tmp_path / "state" / "outbox.sqlite3")})
    r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == EXIT_CONFIG, r.stderr
    assert str(lock) in r.stderr and "Traceback" not in r.stderr


def test_a_second_service_on_an_outbox_whose_lock_file_was_deleted_exits_naming_it(tmp_path):
    path = tmp_path / "state" / "outbox.sqlite3"
    first = Outbox(path, 100, 10**6)
    try:
        Path(f"{path}.lock").unlink()
        cfg = write_config(tmp_path / "config.toml", source={"uri": str(VIDEO / "opencv_vtest_30s_h264.mp4")},
                           runtime={"models_dir": str(MODELS)}, mqtt={"host": "127.0.0.1", "port": 1,
                                                                      "outbox_path": str(path)})
        r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg)], capture_output=True,
                           text=True, timeout=120)
    finally:
        first.close()
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"outbox {path} is in use by another publisher" in r.stderr, r.stderr


def test_the_service_starts_on_a_scribbled_outbox_and_says_so(tmp_path, broker):
    """``edgeapp run`` as systemd runs it: exit 0 after a stop, never the exit 1 that looped restarts."""
    outbox = tmp_path / "outbox.sqlite3"
    box = Outbox(outbox, 100, 10**6)
    box.append([lambda seq: ("t", b"x")] * 25)
    box.close()
    header_scribbled(outbox)
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(VIDEO / "opencv_vtest_30s_h264.mp4"), "loop": True},
                       runtime={"models_dir": str(MODELS), "threads": 1},
                       mqtt={"host": "127.0.0.1", "port": broker.port, "device_id": "dmg", "outbox_path": str(outbox)})
    error, returncode, err = first_service_error(cfg, broker.port, "dmg")
    assert error["source"] == "outbox" and error["seq"] > 25 and "damaged" in error["message"], error
    assert returncode == 0, err
    assert "Traceback" not in err
    assert any(line.startswith("<3>") and "damaged" in line for line in err.splitlines()), err
    assert "<6>INFO edgeapp.service.runner: received SIGTERM" in err  # a requested stop is not a warning
    shutil.rmtree(tmp_path / "broker", ignore_errors=True)
