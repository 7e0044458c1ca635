"""The outbox file deleted, replaced or emptied while the publisher runs (found by exploratory
testing: events went on into the unlinked file, the clean stop said they stayed for the next
start, and the next start found no outbox). Real SQLite files throughout."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from edgeapp.events import TrackingEvent
from edgeapp.mqtt.outbox import Outbox


def fill(box: Outbox, n: int, size: int = 100) -> None:
    box.append([lambda seq: ("t", bytes([seq % 251]) * size)] * n)


def delete(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def empty(path: Path) -> None:
    for suffix in ("", "-wal"):
        os.truncate(f"{path}{suffix}", 0)


def replace_with_another(path: Path) -> None:
    delete(path)
    other = Outbox(path.with_name("other.sqlite3"), 100, 10**6)
    fill(other, 3)
    other.close()
    path.with_name("other.sqlite3").rename(path)


def seqs_at(path: Path) -> list[int]:
    box = Outbox(path, 10**6, 10**9)
    try:
        assert box.recovered is None, box.recovered
        return [m.seq for m in box.peek(0, 10**6)]
    finally:
        box.close()


def test_a_deleted_emptied_or_replaced_outbox_is_noticed_and_nothing_is_lost(tmp_path):
    for harm in (delete, empty, replace_with_another):
        path = tmp_path / harm.__name__ / "outbox.sqlite3"
        box = Outbox(path, 10**6, 10**9)
        fill(box, 300)
        box.delete(range(1, 21))  # delivered
        assert box.check(force=True) is None  # an intact file is left alone
        harm(path)
        fill(box, 50)  # the store thread goes on before the next check
        replaced = box.check(force=True)
        assert replaced is not None and replaced.carried == 330 and replaced.lost == 0, harm.__name__
        assert box.check(force=True) is None and box.depth == 330
        fill(box, 5)
        box.close()
        assert seqs_at(path) == list(range(21, 356)), harm.__name__  # every undelivered one, seq going on


def test_rows_that_cannot_be_read_back_are_reported_lost_with_their_range(tmp_path):
    """More than SQLite's page cache holds, then emptied: what is gone is said, never claimed kept."""
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, 10**6, 10**9)
    for _ in range(40):
        fill(box, 250, size=1000)  # 10 MB, five times the default cache
    assert box.check(force=True) is None
    empty(path)
    replaced = box.check(force=True)
    assert replaced is not None and replaced.lost > 0
    assert replaced.carried + replaced.lost == 10_000
    assert 1 <= replaced.lost_first <= replaced.lost_last <= 10_000
    assert f"{replaced.lost} undelivered events could not be read back" in replaced.message
    assert box.depth == replaced.carried
    box.close()
    assert len(seqs_at(path)) == replaced.carried


def test_the_publisher_carries_a_deleted_outbox_over_and_says_so(tmp_path, make_config, publishers, caplog):
    """The tester's run: broker away, outbox deleted, clean stop, next start finds every event."""
    config = make_config(1)  # nothing listens on port 1: every event waits in the outbox
    pub = publishers(config)
    for i in range(40):
        assert pub.publish(TrackingEvent(type="angles", pan=float(i), tilt=0.0, target="person"))
    assert pub.flush()
    delete(Path(config.outbox_path))
    for i in range(40, 60):
        assert pub.publish(TrackingEvent(type="angles", pan=float(i), tilt=0.0, target="person"))
    assert pub.flush()
    with caplog.at_level(logging.INFO):
        pub.close(drain_timeout=0)
    kept = seqs_at(Path(config.outbox_path))
    assert len(kept) == 61  # 60 events and the error event about the deletion
    assert f"{len(kept)} events stay in the outbox" in caplog.text
    box = Outbox(config.outbox_path, 100, 10**6)
    payloads = [json.loads(m.payload) for m in box.peek(0, 100)]
    box.close()
    errors = [p for p in payloads if p["event"] == "error"]
    assert len(errors) == 1 and "deleted while open" in errors[0]["message"], payloads
    assert errors[0]["detail"]["lost"] == 0 and errors[0]["detail"]["carried"] >= 40


def test_a_truncated_shm_file_does_not_kill_the_process(tmp_path):
    """Was: SIGBUS, a silent exit 135 with nothing in the log. SQLite mapped the WAL index from the -shm file,
    and touching the map past the end of a file truncated under it (or one a failing disk could not grow) kills
    the process. The outbox now locks its database and SQLite keeps the index in its own memory: no -shm."""
    path = tmp_path / "outbox.sqlite3"
    code = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from edgeapp.mqtt.outbox import Outbox
        box = Outbox({str(path)!r}, 100, 10**6)
        box.append([lambda seq: ("t", b"x")] * 5)
        shm = Path({str(path) + "-shm"!r})
        print("shm" if shm.exists() else "no shm", flush=True)
        if shm.exists():
            os.truncate(shm, 0)
        box.append([lambda seq: ("t", b"x")] * 5)
        print(len(box.peek(0, 100)), flush=True)
        box.close()
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.split() == ["no", "shm", "10"], r.stdout
