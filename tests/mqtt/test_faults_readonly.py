"""A state directory that is read-only at start (an SD card the kernel remounted read-only), on a real
tmpfs remounted ``ro`` and back (root, as in CI), with a real broker.

What must hold: no exit (was a ConfigError, exit 78, never restarted); events wait in memory within
the row bound (oldest dropped and counted), are sent from there, and are reported (stats, an error
event); once the filesystem is writable again what memory holds is moved into the file, with its seqs.
A path that can never work (under a file) stays a config error.
"""

from __future__ import annotations

import logging
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.config import write_config
from support.faults import small_disk
from support.shared import MODELS, VIDEO
from edgeapp.errors import ConfigError
from edgeapp.events import TrackingEvent
from edgeapp.mqtt.outbox import Outbox

from .conftest import WAIT_S, first_service_error, stored_seqs, wait_until


@contextmanager
def read_only(disk: Path):
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, capture_output=True)
    try:
        yield
    finally:
        writable(disk)


def writable(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True, capture_output=True)


def event(i: int) -> TrackingEvent:
    return TrackingEvent(type="angles", pan=float(i % 90), tilt=0.0, target=f"t{i}")


def test_a_read_only_state_dir_holds_events_in_memory_and_moves_them_into_the_file(tmp_path):
    with small_disk(tmp_path / "disk", 1024) as disk:
        path = disk / "state" / "outbox.sqlite3"
        box = Outbox(path, max_rows=100, max_bytes=10**6)
        box.append([lambda seq: ("t", b"before")] * 3)  # 3 rows the broker never took
        before = box.last_seq
        box.close()
        with read_only(disk):
            box = Outbox(path, max_rows=10, max_bytes=10**6)
            try:
                assert box.unavailable and "Read-only file system" in box.unavailable, box.unavailable
                result = box.append([lambda seq: ("t", f"m{seq}".encode())] * 15)
                assert result.dropped == 5 and box.depth == 10 and box.dropped == 5
                assert min(result.seqs) > before
                held = [m.seq for m in box.peek(0, 100)]
                assert held == result.seqs[5:]  # the oldest dropped, the rest in order
                assert box.delete(held[:2]) == 2 and box.depth == 8  # sent from memory
                assert box.check(force=True) is None and box.unavailable  # still read-only: still in memory
            except BaseException:
                box.close()
                raise
        try:
            wait_until(lambda: box.check() is None and box.unavailable is None, "the outbox file to open")
            # 3 + 8 rows: the bound of 10 drops the oldest, as it would have in the file
            assert stored_seqs(path) == [2, 3] + held[2:]
            assert box.depth == 10 and box.dropped == 6 and box.last_seq == result.seqs[-1]
            nxt = box.append([lambda seq: ("t", b"after")])
            assert nxt.seqs == [result.seqs[-1] + 1] and stored_seqs(path)[-1] == nxt.seqs[0]
        finally:
            box.close()
        reopened = Outbox(path, max_rows=100, max_bytes=10**6)  # the mark covers the seqs used from memory
        assert reopened.last_seq == nxt.seqs[0] and reopened.depth == 10
        reopened.close()


def test_the_publisher_starts_on_a_read_only_state_dir_and_delivers(tmp_path, broker, recorders, make_config,
                                                                     publishers):
    with small_disk(tmp_path / "disk", 1024) as disk:
        config = make_config(broker.port, outbox_path=str(disk / "state" / "outbox.sqlite3"))
        rec = recorders(broker.port, "edgeapp/dev1/events/#")
        with read_only(disk):
            p = publishers(config)
            assert p.stats().outbox_in_memory and not p.stats().store_failing
            for i in range(10):
                assert p.publish(event(i))
            assert p.drain(WAIT_S)  # delivered from memory
            rec.wait_for(lambda r: any(e.event.kind == "error" and e.event.detail.get("in_memory")
                                       for e in r.events()), what="the in-memory error event")
        wait_until(lambda: not p.stats().outbox_in_memory, "the outbox file to open")
        for i in range(10, 20):
            assert p.publish(event(i))
        assert p.drain(WAIT_S)
        s = p.stats()
        assert s.lost == 0 and s.outbox_dropped == 0 and not s.outbox_in_memory
        p.close()
    events = rec.events()
    delivered = [e.event.target for e in events if e.event.kind == "tracking"]
    assert sorted(set(delivered), key=lambda t: int(t[1:])) == [f"t{i}" for i in range(20)]
    seqs = [e.seq for e in events]
    assert len(set(seqs)) == len(seqs), "a seq was given twice"
    print(f"\nread-only at start: {len(delivered)} events delivered (10 from memory), seqs {min(seqs)}..{max(seqs)}")


def test_at_a_stop_memory_goes_into_the_file_if_it_can_and_is_said_lost_if_not(tmp_path, make_config, publishers,
                                                                               caplog):
    with small_disk(tmp_path / "disk", 1024) as disk:
        path = disk / "state" / "outbox.sqlite3"
        config = make_config(1, outbox_path=str(path))  # no broker: everything stays undelivered
        with read_only(disk):
            p = publishers(config)
            for i in range(5):
                assert p.publish(event(i))
            assert p.flush(WAIT_S) and p.stats().outbox_depth == 6  # and the in-memory error event
            p.close(drain_timeout=0)
        lost = [r for r in caplog.records if "held in memory are lost" in r.getMessage()]
        assert len(lost) == 1 and lost[0].levelno == logging.ERROR and lost[0].getMessage().startswith("6 ")
        assert "stay in the outbox" not in caplog.text
        caplog.clear()
        with read_only(disk):
            p = publishers(config)
            for i in range(5):
                assert p.publish(event(i))
            assert p.flush(WAIT_S)
            writable(disk)
            p.close(drain_timeout=0)  # tries the file once more, whatever the backoff says
        assert "held in memory are lost" not in caplog.text
        box = Outbox(path, 100, 10**6)
        assert box.depth == 6 and box.unavailable is None
        box.close()


def test_an_outbox_that_cannot_be_made_again_after_it_vanished_carries_its_rows_into_memory(tmp_path):
    """The state directory moved away and a file put in its place while the outbox is open: a new
    outbox cannot be made at the path (the kernel refuses a read-only remount while files are open for
    writing, so this is the real way to get there in a test). Was: the rows read back were lost."""
    state = tmp_path / "state"
    path = state / "outbox.sqlite3"
    box = Outbox(path, max_rows=100, max_bytes=10**6)
    try:
        first = box.append([lambda seq: ("t", f"m{seq}".encode())] * 5)
        state.rename(tmp_path / "state.old")
        state.write_text("in the way")
        replaced = box.check(force=True)
        assert replaced and replaced.carried == 5 and replaced.lost == 0 and replaced.detail["in_memory"]
        assert "carried into memory" in replaced.message, replaced.message
        assert box.unavailable and [m.seq for m in box.peek(0, 10)] == first.seqs
        more = box.append([lambda seq: ("t", f"m{seq}".encode())] * 2)
        assert min(more.seqs) > max(first.seqs) and box.depth == 7
        state.unlink()
        state.mkdir()
        wait_until(lambda: box.check() is None and box.unavailable is None, "the outbox file to open")
        assert stored_seqs(path) == first.seqs + more.seqs and box.depth == 7
    finally:
        box.close()


def test_a_path_in_the_way_while_in_memory_keeps_the_events_there(tmp_path):
    """In memory since start, and then a file where the state directory should be: the retries go on,
    the events stay (a ConfigError there would fail every write from then on)."""
    with small_disk(tmp_path / "disk", 1024) as disk:
        path = disk / "state" / "outbox.sqlite3"
        with read_only(disk):
            box = Outbox(path, max_rows=100, max_bytes=10**6)
        try:
            (disk / "state").write_text("in the way")
            first = box.append([lambda seq: ("t", b"x")] * 3)
            assert box.check(force=True) is None and "mqtt.outbox_path" in box.unavailable, box.unavailable
            more = box.append([lambda seq: ("t", b"y")] * 2)
            assert box.depth == 5 and more.seqs[0] == first.seqs[-1] + 1
            (disk / "state").unlink()
            wait_until(lambda: box.check() is None and box.unavailable is None, "the outbox file to open")
            assert stored_seqs(path) == first.seqs + more.seqs
        finally:
            box.close()


def test_an_outbox_path_under_a_file_is_still_a_config_error(tmp_path):
    """Made after the config was checked: no remount can cure it, so it stays exit 78."""
    (tmp_path / "state").write_text("not a directory")
    with pytest.raises(ConfigError) as err:
        Outbox(tmp_path / "state" / "outbox.sqlite3", 100, 10**6)
    assert err.value.args and "mqtt.outbox_path" in str(err.value)


def test_edgeapp_run_on_a_read_only_state_dir_runs_and_says_so(tmp_path, broker):
    """``edgeapp run`` as systemd runs it: was exit 78 (RestartPreventExitStatus: never back)."""
    with small_disk(tmp_path / "disk", 1024) as disk, read_only(disk):
        cfg = write_config(tmp_path / "config.toml",
                           source={"uri": str(VIDEO / "opencv_vtest_30s_h264.mp4"), "loop": True},
                           runtime={"models_dir": str(MODELS), "threads": 1}, service={"state_dir": str(disk / "state")},
                           mqtt={"host": "127.0.0.1", "port": broker.port, "device_id": "ro"})
        error, returncode, err = first_service_error(cfg, broker.port, "ro")
    assert error["source"] == "outbox" and error["detail"]["in_memory"], error
    assert "Read-only file system" in error["message"], error
    assert returncode == 0, err
    assert "Traceback" not in err
    assert any(line.startswith("<3>") and "held in memory" in line for line in err.splitlines()), err
