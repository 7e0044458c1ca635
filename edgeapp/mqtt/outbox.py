"""The durable outbox: every event is a row here before it goes to the broker, and stays
until the broker acknowledges it.

SQLite in WAL mode. Appends commit with ``synchronous=FULL`` so that an event the
publisher accepted survives a power cut; deletions after an acknowledgement commit
with ``NORMAL``, because losing one in a power cut only means the event is sent again
(delivery is at-least-once anyway) and it halves the fsyncs on an SD card.

``seq`` is assigned here, in the transaction that stores the event, and the last one
is kept in ``meta`` so that it is never reused, even once the outbox is empty.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edgeapp.errors import EdgeappError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('last_seq', 0), ('dropped', 0);
"""

# A draft turns the seq it is given into (topic, payload); it may raise to refuse.
Draft = Callable[[int], tuple[str, bytes]]


class OutboxError(EdgeappError):
    """The outbox file cannot be opened or is in use."""


@dataclass(frozen=True)
class Message:
    seq: int
    topic: str
    payload: bytes


@dataclass
class AppendResult:
    seqs: list[int] = field(default_factory=list)
    refused: list[tuple[int, Exception]] = field(default_factory=list)  # (index of the draft, why)
    dropped: int = 0  # oldest rows removed to stay within the bounds


class Outbox:
    """Thread-safe: the store thread appends while the send thread peeks and deletes."""

    def __init__(self, path: str | Path, max_rows: int, max_bytes: int):
        self.path = Path(path)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._lockfile = _exclusive(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._rows, self._bytes = self._db.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM outbox").fetchone()
            self._last_seq = self._meta("last_seq")
            self._dropped = self._meta("dropped")
        except sqlite3.DatabaseError as exc:
            self._lockfile.close()
            raise OutboxError(f"outbox {self.path} is unreadable ({exc}); move it aside to start a new one "
                              "(seq then restarts at 1)") from None

    def _meta(self, key: str) -> int:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    # --- properties read by stats: plain ints, no query ---
    @property
    def depth(self) -> int:
        return self._rows

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def dropped(self) -> int:
        """Rows removed unacknowledged to keep within the bounds, over the outbox's whole life."""
        return self._dropped

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def append(self, drafts: Sequence[Draft]) -> AppendResult:
        """Store a batch in one durable transaction (one fsync for the batch)."""
        result = AppendResult()
        with self._lock:
            seq, added, added_bytes = self._last_seq, [], 0
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for i, draft in enumerate(drafts):
                    try:
                        topic, payload = draft(seq + 1)
                    except Exception as exc:  # a producer's bad event must not lose the others
                        result.refused.append((i, exc))
                        continue
                    seq += 1
                    added.append((seq, topic, payload, len(payload)))
                    added_bytes += len(payload)
                self._db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?)", added)
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (seq,))
                self._rows += len(added)
                self._bytes += added_bytes
                result.dropped = self._drop_oldest()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._rows, self._bytes = self._db.execute(
                    "SELECT count(*), coalesce(sum(size), 0) FROM outbox").fetchone()
                raise
            self._last_seq = seq
            self._dropped += result.dropped
            result.seqs = [row[0] for row in added]
        return result

    def _drop_oldest(self) -> int:
        """Inside the append transaction: remove the oldest rows until within both bounds."""
        if self._rows <= self.max_rows and self._bytes <= self.max_bytes:
            return 0
        excess_rows, excess_bytes = self._rows - self.max_rows, self._bytes - self.max_bytes
        n, freed, last = 0, 0, None
        for seq, size in self._db.execute("SELECT seq, size FROM outbox ORDER BY seq"):
            if n >= excess_rows and freed >= excess_bytes:
                break
            n, freed, last = n + 1, freed + size, seq
        self._db.execute("DELETE FROM outbox WHERE seq <= ?", (last,))
        self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (n,))
        self._rows -= n
        self._bytes -= freed
        log.warning("outbox full (%d rows / %d bytes max): dropped the %d oldest events up to seq %d",
                    self.max_rows, self.max_bytes, n, last)
        return n

    def peek(self, after_seq: int, limit: int) -> list[Message]:
        """The oldest ``limit`` messages with a seq above ``after_seq``, in seq order."""
        with self._lock:
            rows = self._db.execute("SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (after_seq, limit)).fetchall()
        return [Message(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def delete(self, seqs: Iterable[int]) -> int:
        """Forget acknowledged messages. Seqs already dropped are ignored."""
        seqs = list(seqs)
        if not seqs:
            return 0
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            n, freed = 0, 0
            for seq in seqs:
                row = self._db.execute("DELETE FROM outbox WHERE seq = ? RETURNING size", (seq,)).fetchone()
                if row:
                    n, freed = n + 1, freed + row[0]
            self._db.execute("COMMIT")
            self._rows -= n
            self._bytes -= freed
        return n

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._lockfile.close()


def _exclusive(path: Path):
    """Two publishers on one outbox would reuse seqs: refuse, naming the file. The kernel
    drops the lock when the holder dies, so a kill -9 never leaves it stale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path.with_name(path.name + ".lock"), "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise OutboxError(f"outbox {path} is in use by another publisher") from None
    return f
