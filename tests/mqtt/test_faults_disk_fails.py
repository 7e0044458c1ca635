"""The disk fails under the open outbox: a real ext4 that the kernel turns read-only under the open
files (as an SD card after an I/O error), or on which every I/O fails (EIO), and back.

What must hold: no event is lost that can still be read. The write that finds the failure, and those
after it, go to memory with the undelivered rows read back from the file (was: each batch was counted
lost, its seqs a gap, for as long as the disk stayed so); seq goes on without a gap; one error event
says so (``detail.in_memory``), as when the file cannot be opened at start; once the file system is
back, memory moves into the file and what was delivered meanwhile is not sent again.
"""

from __future__ import annotations

import json

from support.faults import ext4_back, ext4_disk, ext4_error, ext4_shutdown
from edgeapp.events import TrackingEvent
from edgeapp.mqtt.outbox import Outbox

from .conftest import WAIT_S, stored_seqs, wait_until


def drafts(n: int):
    return [lambda seq: ("t", f"m{seq}".encode())] * n


def seqs(box: Outbox) -> list[int]:
    return [m.seq for m in box.peek(0, 1000)]


def test_a_disk_turned_read_only_under_the_outbox_holds_its_events_in_memory_until_it_is_back(tmp_path):
    with ext4_disk(tmp_path / "disk") as disk:
        path = disk / "state" / "outbox.sqlite3"
        box = Outbox(path, max_rows=100, max_bytes=10**6)
        try:
            assert box.append(drafts(5)).seqs == [1, 2, 3, 4, 5]
            assert box.delete([1, 2]) == 2  # delivered
            ext4_error(disk)
            assert box.append(drafts(3)).seqs == [6, 7, 8]  # stored, seq going on
            assert box.unavailable and seqs(box) == [3, 4, 5, 6, 7, 8] and box.depth == 6
            told = box.check()
            assert told and told.carried == 3 and told.lost == 0 and told.detail["in_memory"], told
            assert f"outbox {path} could not be written" in told.message
            assert box.append(drafts(1)).seqs == [9] and box.check(force=True) is None  # said once
            assert box.delete([3, 6]) == 2  # delivered from memory
            ext4_back(disk)
            wait_until(lambda: box.check() is None and box.unavailable is None, "the outbox file to open")
            # 3 was delivered from memory: the file's own copy is not sent again
            assert stored_seqs(path) == seqs(box) == [4, 5, 7, 8, 9] and box.depth == 5
            assert box.append(drafts(1)).seqs == [10]
        finally:
            box.close()


def test_a_deletion_that_finds_the_disk_read_only_moves_the_rows_into_memory(tmp_path):
    """The send thread's write after an acknowledgement may be the first to find it (was: the rows stayed,
    and every later deletion failed too)."""
    with ext4_disk(tmp_path / "disk") as disk:
        box = Outbox(disk / "outbox.sqlite3", max_rows=100, max_bytes=10**6)
        try:
            box.append(drafts(4))
            ext4_error(disk)
            assert box.delete([1]) == 1 and box.unavailable and seqs(box) == [2, 3, 4]
            told = box.check()
            assert told and told.carried == 4 and told.lost == 0  # read back before the deletion, done in memory
        finally:
            box.close()


def test_a_disk_that_fails_every_io_says_what_it_cannot_read_and_sends_it_if_the_disk_comes_back(tmp_path):
    with ext4_disk(tmp_path / "disk") as disk:
        path = disk / "outbox.sqlite3"
        box = Outbox(path, max_rows=100, max_bytes=10**6)
        try:
            box.append(drafts(5))
            box.delete([1])
            ext4_shutdown(disk)
            assert box.append(drafts(3)).seqs == [6, 7, 8] and box.unavailable
            told = box.check()
            assert told and told.detail["in_memory"] and told.carried + told.lost == 4, told
            carried = seqs(box)[:told.carried]
            assert carried + [6, 7, 8] == seqs(box)
            if told.lost:  # what SQLite's own cache did not hold: its range (at most: 1 was delivered since the check)
                assert 1 <= told.lost_first <= told.lost_last <= 5 and not set(carried) & set(
                    range(told.lost_first, told.lost_last + 1))
            print(f"\nEIO under the open outbox: {told.message}")
            ext4_back(disk)
            wait_until(lambda: box.check() is None and box.unavailable is None, "the outbox file to open")
            # what could not be read is on the card still: sent late, not dropped with the rows memory has
            assert set(range(2, 9)) <= set(stored_seqs(path)) == set(seqs(box)), seqs(box)
        finally:
            box.close()


def test_the_publisher_says_it_once_and_loses_nothing(tmp_path, make_config, publishers):
    with ext4_disk(tmp_path / "disk") as disk:
        config = make_config(1, outbox_path=str(disk / "outbox.sqlite3"))  # no broker: every event stays
        p = publishers(config)
        for i in range(20):
            if i == 5:
                ext4_error(disk)
            assert p.publish(TrackingEvent(type="angles", pan=0.0, tilt=0.0, target=f"t{i}"))
            assert p.flush(WAIT_S)  # a write each
        s = p.stats()
        assert s.outbox_in_memory and s.lost == 0 and s.store_errors == 0 and not s.store_failing, s
        payloads = [json.loads(m.payload) for m in p.outbox.peek(0, 100)]
        assert [e["target"] for e in payloads if e["event"] == "tracking"] == [f"t{i}" for i in range(20)]
        errors = [e for e in payloads if e["event"] == "error"]
        assert len(errors) == 1 and errors[0]["source"] == "outbox", errors
        assert errors[0]["detail"]["in_memory"] and errors[0]["detail"]["carried"] == 5, errors
        assert [e["seq"] for e in payloads] == list(range(1, 22))  # no gap
