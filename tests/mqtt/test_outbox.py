"""The outbox on its own: order, bounds, seq that is never reused, one owner at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeapp.mqtt.outbox import Outbox, OutboxError


def drafts(n: int, size: int = 10):
    return [lambda seq: ("t", b"x" * size)] * n


def test_seq_counts_from_one_in_order(tmp_path):
    box = Outbox(tmp_path / "o.db", 100, 10**6)
    assert box.append(drafts(3)).seqs == [1, 2, 3]
    assert [m.seq for m in box.peek(0, 10)] == [1, 2, 3]
    assert [m.seq for m in box.peek(1, 1)] == [2]


def test_seq_is_never_reused_after_acks_and_reopen(tmp_path):
    box = Outbox(tmp_path / "o.db", 100, 10**6)
    box.append(drafts(5))
    box.delete([1, 2, 3, 4, 5])
    assert box.depth == 0
    box.close()
    box = Outbox(tmp_path / "o.db", 100, 10**6)
    assert box.append(drafts(1)).seqs == [6]


def test_the_draft_sees_its_seq_and_a_refused_draft_takes_none(tmp_path):
    box = Outbox(tmp_path / "o.db", 100, 10**6)

    def bad(seq):
        raise ValueError("NaN")

    result = box.append([lambda s: ("t", b"%d" % s), bad, lambda s: ("t", b"%d" % s)])
    assert result.seqs == [1, 2] and [i for i, _ in result.refused] == [1]
    assert [m.payload for m in box.peek(0, 10)] == [b"1", b"2"]


def test_row_bound_drops_the_oldest_and_counts_them_for_good(tmp_path):
    box = Outbox(tmp_path / "o.db", max_rows=10, max_bytes=10**6)
    result = box.append(drafts(25))
    assert result.dropped == 15 and box.dropped == 15
    assert [m.seq for m in box.peek(0, 100)] == list(range(16, 26))
    box.close()
    assert Outbox(tmp_path / "o.db", 10, 10**6).dropped == 15


def test_byte_bound_drops_the_oldest(tmp_path):
    box = Outbox(tmp_path / "o.db", max_rows=1000, max_bytes=64 * 1024)
    box.append(drafts(100, size=1024))
    assert box.size_bytes <= 64 * 1024
    assert box.dropped == 100 - box.depth
    assert box.peek(0, 1)[0].seq == box.dropped + 1


def test_acks_for_dropped_rows_are_ignored(tmp_path):
    box = Outbox(tmp_path / "o.db", max_rows=10, max_bytes=10**6)
    box.append(drafts(12))
    assert box.delete([1, 2, 3]) == 1  # 1 and 2 were dropped already
    assert box.depth == 9


def test_one_publisher_per_outbox(tmp_path):
    first = Outbox(tmp_path / "o.db", 10, 10**6)
    with pytest.raises(OutboxError, match="in use by another publisher"):
        Outbox(tmp_path / "o.db", 10, 10**6)
    first.close()
    Outbox(tmp_path / "o.db", 10, 10**6)  # free again once the first owner is gone


def test_a_second_publisher_is_refused_after_the_lock_file_went_too(tmp_path):
    """The database itself is locked while open: deleting the .lock file (or the whole outbox, which the
    first publisher makes again within a second) no longer lets a second one in to reuse seqs."""
    path = tmp_path / "o.db"
    first = Outbox(path, 10, 10**6)
    try:
        first.append(drafts(3))
        Path(f"{path}.lock").unlink()
        with pytest.raises(OutboxError, match=f"^outbox {path} is in use by another publisher$"):
            Outbox(path, 10, 10**6)
        for name in (path.name, f"{path.name}-wal", f"{path.name}.lock", f"{path.name}.seq"):
            (tmp_path / name).unlink(missing_ok=True)
        assert first.check(force=True).carried == 3  # a new outbox at the path, open
        with pytest.raises(OutboxError, match="in use by another publisher"):
            Outbox(path, 10, 10**6)
        assert first.append(drafts(1)).seqs == [4]
    finally:
        first.close()


def test_outbox_full_is_one_line_a_minute_with_the_count(tmp_path, caplog):
    box = Outbox(tmp_path / "o.db", max_rows=10, max_bytes=10**6)
    for _ in range(50):  # the broker is away for long: every batch drops the oldest
        box.append(drafts(5))
    lines = [r.getMessage() for r in caplog.records if "outbox full" in r.getMessage()]
    assert len(lines) == 1 and box.dropped == 240, lines
    assert "dropped the 5 oldest events" in lines[0]
