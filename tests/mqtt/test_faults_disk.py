"""Disk full, then space back, on a real 1 MiB tmpfs with a real broker.

What must hold: no traceback and no event lost: the write that finds the disk full moves the undelivered
rows into memory, as an outbox that cannot be opened at start does (was, after issue 17: each batch that
did not fit was lost, counted, and its seqs a gap, for as long as the disk stayed full, the broker there
or not); one error event and ``outbox_in_memory`` say so, /healthz says degraded while it lasts; once
there is room the file takes what memory holds, with its seqs; ``outbox_depth`` equals the rows really in
the file whenever the file is in use; nothing dropped that the bound does not justify; the WAL stays bounded.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from support.faults import fill, small_disk
from edgeapp.events import TrackingEvent
from edgeapp.mqtt.outbox import Outbox
from edgeapp.preview.config import PreviewConfig
from edgeapp.preview.server import PreviewServer
from preview.conftest import FakePipeline, get, get_json

from .conftest import WAIT_S, stored_seqs, wait_until

EVENTS_PER_BATCH = 20


def audit(box: Outbox) -> None:
    with box.held():  # no write in between
        assert box.depth == len(stored_seqs(box.path)), "outbox_depth differs from the rows in the file"


def event(i: int, size: int = 200) -> TrackingEvent:
    return TrackingEvent(type="angles", pan=float(i % 90), tilt=0.0, target=f"t{i}-" + "x" * size)


def test_outbox_on_a_full_disk_holds_its_events_in_memory_and_moves_them_back_with_their_seqs(tmp_path):
    with small_disk(tmp_path / "disk", 1024) as disk:
        box = Outbox(disk / "o.sqlite3", max_rows=100_000, max_bytes=10**7)
        batch = [lambda seq: ("t", b"y" * 300)] * EVENTS_PER_BATCH
        for _ in range(5):
            box.append(batch)
        audit(box)
        filler = fill(disk)
        for _ in range(40):  # the broker is away: rows only pile up
            box.append(batch)
            if box.unavailable is None:
                audit(box)
        assert box.unavailable, "the disk never filled"
        told = box.check()
        assert told and told.detail["in_memory"] and told.lost == 0, told
        expected = list(range(1, 45 * EVENTS_PER_BATCH + 1))
        assert [m.seq for m in box.peek(0, 10**4)] == expected and box.dropped == 0
        filler.unlink()
        wait_until(lambda: box.check() is None and box.unavailable is None, "the outbox file to open")
        audit(box)
        assert stored_seqs(box.path) == expected
        box.close()


def test_disk_full_while_connected_loses_nothing_and_says_so(tmp_path, broker, recorders, make_config, publishers,
                                                            caplog):
    caplog.set_level(logging.INFO)
    with small_disk(tmp_path / "disk", 1024) as disk:
        config = make_config(broker.port, outbox_path=str(disk / "outbox.sqlite3"), outbox_max_bytes=256 * 1024)
        rec = recorders(broker.port, "edgeapp/dev1/events/#")
        p = publishers(config)  # the 50 ms linger makes a batch of each 20 events: one write each
        assert p.wait_connected(WAIT_S)
        pipeline = FakePipeline()
        server = PreviewServer(PreviewConfig(enabled=True, port=0), pipeline, mqtt_stats=p.stats).start()
        pipeline.start()
        try:
            sent = 0

            def batch(size: int = 200) -> None:
                nonlocal sent
                for _ in range(EVENTS_PER_BATCH):
                    assert p.publish(event(sent, size))
                    sent += 1
                assert p.drain(WAIT_S)  # the broker takes them as they come: memory holds no more than a batch

            for _ in range(5):
                batch()
                audit(p.outbox)
            assert get_json(server.url + "healthz")[0] == 200
            filler = fill(disk)
            for _ in range(30):  # 20 x 3 KB a write: more than the WAL and the free pages the outbox already holds
                batch(3000)
            s = p.stats()
            assert s.outbox_in_memory and s.lost == 0 and not s.store_failing and s.outbox_dropped == 0, s
            status, body = get_json(server.url + "healthz")
            assert status == 503 and "degraded" in body["reason"], body
            metrics = {line.split()[0]: float(line.split()[1]) for line in
                       get(server.url + "metrics")[1].decode().splitlines()
                       if line and not line.startswith("#")}
            assert metrics["edgeapp_mqtt_outbox_in_memory"] == 1 and metrics["edgeapp_mqtt_lost_total"] == 0

            filler.unlink()
            wait_until(lambda: not p.stats().outbox_in_memory, "the outbox file to open")
            for _ in range(5):
                batch()
                audit(p.outbox)
            s = p.stats()
            assert s.lost == 0 and s.outbox_dropped == 0
            assert get_json(server.url + "healthz")[0] == 200
            rec.wait_for(lambda r: any(e.seq == s.last_seq for e in r.events()), what="the last event")
        finally:
            server.stop()
            pipeline.stop()

    events = rec.events()
    # One notice each time the file failed: a nearly full disk may take the move back and refuse a later write.
    notices = [e.event.detail for e in events if e.event.kind == "error" and e.event.source == "outbox"]
    assert notices and all(n["in_memory"] and n["lost"] == 0 for n in notices), notices
    delivered = {e.event.target for e in events if e.event.kind == "tracking"}
    assert len(delivered) == sent
    assert {e.seq for e in events} == set(range(1, s.last_seq + 1))  # no gap
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    print(f"\ndisk full while connected: {sent} events sent, all delivered, seqs 1..{s.last_seq} without a gap, "
          f"{len(notices)} fall(s) into memory")


def test_the_wal_stays_near_the_bound(tmp_path):
    """Broker away, a small bound: the files on disk stay near outbox_max_bytes, however many events pass."""
    max_bytes = 256 * 1024
    box = Outbox(tmp_path / "o.sqlite3", max_rows=100_000, max_bytes=max_bytes)
    wal = Path(f"{box.path}-wal")
    largest_wal = largest_db = 0
    for _ in range(200):
        box.append([lambda seq: ("t", b"z" * 500)] * EVENTS_PER_BATCH)
        largest_wal = max(largest_wal, wal.stat().st_size if wal.exists() else 0)
        largest_db = max(largest_db, box.path.stat().st_size)
    assert box.dropped > 0 and box.size_bytes <= max_bytes
    assert largest_wal <= max_bytes // 2, largest_wal
    assert largest_db <= 2 * max_bytes, largest_db
    print(f"\nWAL at most {largest_wal / 1024:.0f} KiB, database at most {largest_db / 1024:.0f} KiB "
          f"for outbox_max_bytes {max_bytes // 1024} KiB ({200 * EVENTS_PER_BATCH} events of 500 bytes)")
    box.close()


def test_a_full_disk_at_start_is_no_restart_loop(tmp_path, broker, recorders, make_config, publishers):
    """The outbox opens (nothing to make: the database is locked, SQLite needs no -shm) and its first write finds
    the disk full: the publisher holds and sends events from memory, and moves to the file (above every seq used
    before) once there is room."""
    with small_disk(tmp_path / "disk", 1024) as disk:
        config = make_config(broker.port, outbox_path=str(disk / "outbox.sqlite3"))
        rec = recorders(broker.port, "edgeapp/dev1/events/#")
        first = publishers(config)
        for i in range(10):
            assert first.publish(event(i))
        assert first.drain(WAIT_S)
        before = first.outbox.last_seq
        first.close()
        filler = fill(disk)
        p = publishers(config, store_linger_s=0.0)
        for i in range(10, 20):
            assert p.publish(event(i))
        assert p.drain(WAIT_S)  # from memory
        assert p.stats().lost == 0 and p.stats().outbox_in_memory and p.outbox.unavailable, p.outbox.unavailable
        filler.unlink()
        deadline = time.monotonic() + 30  # the file is tried again with backoff from 1 s
        n = 20
        while p.stats().outbox_in_memory and time.monotonic() < deadline:
            assert p.publish(event(n))
            n += 1
            assert p.flush(WAIT_S)
            time.sleep(0.2)
        s = p.stats()
        assert not s.outbox_in_memory and not s.store_failing, s
        assert p.drain(WAIT_S)
        with p.outbox.held():
            assert p.outbox.depth == 0 and not stored_seqs(p.outbox.path)
    events = rec.events()
    after = [e for e in events if e.seq > before]
    assert all(e.seq > before for e in after) and len({e.seq for e in events}) == len(events)
    delivered = {e.event.target for e in events if e.event.kind == "tracking"}
    assert s.lost == 0 and len(delivered) == n
    assert any(e.event.kind == "error" and e.event.detail.get("in_memory") for e in after)
    print(f"\nfull disk at start: {n - 10} events published, held in memory until the file opened, all delivered, outbox file open "
          f"again, seq {before} -> {min(e.seq for e in after)}")
