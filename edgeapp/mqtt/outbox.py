"""The durable outbox: every event is a row here before it goes to the broker, and stays
until the broker acknowledges it.

SQLite in WAL mode. Appends commit with ``synchronous=FULL`` so that an event the
publisher accepted survives a power cut; deletions after an acknowledgement commit
with ``NORMAL``, because losing one in a power cut only means the event is sent again
(delivery is at-least-once anyway) and it halves the fsyncs on an SD card. The WAL is
checkpointed and truncated at an eighth of ``max_bytes`` (at most SQLite's default 4 MB),
so the files on disk stay near the bound. One process owns an outbox (the ``.lock`` file beside
it), and the database stays locked while open (exclusive locking mode): no other process reads it
meanwhile, and SQLite keeps the WAL index in memory instead of a mapped ``-shm`` file.

``seq`` is assigned here, in the transaction that stores the event, and the last one
is kept in ``meta`` and, ahead of use, in the seq mark file beside the database
(``seqmark``), so that it is never reused: not once the outbox is empty, and not after
the database was damaged or moved away.

Faults are handled, never passed on as a crash:

* a write that the disk refuses (read-only, as an SD card the kernel remounted after an error; an
  I/O error; full) moves the undelivered rows the connection still reads into memory (below) and is
  done there: nothing is lost that can be read; ``check()`` then says so once, with what could not
  be read back as lost (its seq range). When the file opens again, its rows up to the last seq read
  back are dropped from it: they are in memory, or were delivered or dropped meanwhile;
* a write that fails otherwise (a damaged file) stores nothing of its batch and raises
  ``StoreError`` with the seq range the batch would have used; those seqs are skipped, so a
  consumer sees the gap, and the counts stay those of the rows really stored;
* a damaged database (not a database, scribbled pages or header, missing tables, a directory
  at the path) is moved aside (kept for inspection) and a new one continues above the seq
  mark; ``recovered`` says what happened, for the publisher to report;
* an outbox that cannot be opened at all (its directory read-only, as an SD card the kernel
  remounted read-only; a full disk; an I/O error) is no reason to stop: events are held in an
  in-memory database with the same bounds (oldest dropped and counted), sent from there, and the
  file is tried again with backoff; once it opens, what memory holds is moved into it. Seqs given
  out from memory go on from the file's last one (above the seq mark if the file was never read),
  and the mark cannot be moved on meanwhile: a restart before the file opens may give those
  beyond it again;
* a file deleted, replaced or emptied (``truncate -s 0``) while it is open is noticed by
  ``check()`` (called by the publisher at most every ``CHECK_S``, never per event): the
  undelivered rows the open connection still reads are carried into a new outbox at the path,
  with their seqs; what cannot be read any more is reported as lost with its seq range.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from edgeapp.backoff import backoff_delay
from edgeapp.errors import ConfigError, EdgeappError
from edgeapp.logs import Every
from edgeapp.mqtt.seqmark import SeqMark

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
DAMAGE_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_ERROR"}  # SQLITE_ERROR: tables or columns missing
# An outbox that could not be opened is tried again after these many seconds, doubling (as the broker's
# reconnects): a remount or a freed disk is noticed within a minute, and a dead card costs little.
RETRY_MIN_S, RETRY_MAX_S = 1.0, 60.0
KEEP_DAMAGED = 3  # damaged copies kept for inspection; older ones are removed so they cannot fill the disk
MAX_WAL_PAGES = 1000  # SQLite's default autocheckpoint
# How often the files at the path are compared with the ones open: three stat calls, so a second
# costs nothing, and the connection's page cache still holds the rows that long.
CHECK_S = 1.0
DB_MAGIC = b"SQLite format 3\0"
WAL_MAGICS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")

# A state directory that fails in these ways may come back (remounted read-write, space freed, a card
# reseated): events wait in memory. Any other failure (a path under a file...) is the setup's: exit 78.
TRANSIENT_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EACCES, errno.EPERM}
# The same failures of a write to the open file, as SQLite names them (with its extended codes: SQLITE_IOERR_WRITE,
# SQLITE_READONLY_DBMOVED...): they move the undelivered rows into memory, as at start, instead of losing the batch.
DISK_FAILURES = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")

# A draft turns the seq it is given into (topic, payload); it may raise to refuse.
Draft = Callable[[int], tuple[str, bytes]]
T = TypeVar("T")


class OutboxError(EdgeappError):
    """The outbox file cannot be opened or is in use."""


class StoreError(OutboxError):
    """A batch could not be written (disk full, I/O error); none of it was stored. Its rows would
    have had seqs ``first``..``last``: they are skipped, never given to other events."""

    def __init__(self, message: str, first: int, last: int, refused: list[tuple[int, Exception]]):
        super().__init__(message)
        self.first, self.last, self.refused = first, last, refused

    @property
    def count(self) -> int:
        return self.last - self.first + 1


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


@dataclass(frozen=True)
class Recovery:
    """The outbox was found missing, empty or damaged at open, and a new one was started."""

    reason: str
    moved_to: str | None  # where the damaged file now is (None: there was nothing to keep)
    first_seq: int  # the new outbox's first seq

    @property
    def message(self) -> str:
        kept = f"; the damaged file is kept as {self.moved_to}" if self.moved_to else ""
        return f"{self.reason}{kept}; a new outbox continues at seq {self.first_seq}"


@dataclass(frozen=True)
class Replacement:
    """The open outbox file was deleted, replaced or emptied under the running publisher; a new
    one at the path holds the ``carried`` undelivered events that could still be read."""

    reason: str
    moved_to: str | None  # what was found at the path, kept (None: nothing was there)
    carried: int
    lost: int  # undelivered events that could not be read back (at most; some may have been delivered)
    lost_first: int | None  # their seq range
    lost_last: int | None
    in_memory: str | None = None  # why no new file could be made, so the events are held in memory

    @property
    def message(self) -> str:
        kept = f"; what was at the path is kept as {self.moved_to}" if self.moved_to else ""
        lost = (f"; {self.lost} undelivered events could not be read back and are lost "
                f"(seq {self.lost_first}..{self.lost_last} at most)" if self.lost else "")
        into = f"memory ({self.in_memory})" if self.in_memory else "a new outbox"
        return f"{self.reason}{kept}; {self.carried} undelivered events carried into {into}{lost}"

    @property
    def detail(self) -> dict:
        return {"moved_to": self.moved_to, "carried": self.carried, "lost": self.lost,
                "first_seq": self.lost_first, "last_seq": self.lost_last, "in_memory": self.in_memory is not None}


class Outbox:
    """Thread-safe: the store thread appends while the send thread peeks and deletes."""

    def __init__(self, path: str | Path, max_rows: int, max_bytes: int):
        self.path = Path(path)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._lockfile = None
        self._mark = SeqMark(self.path.with_name(self.path.name + ".seq"))
        self.recovered: Recovery | None = None
        self._drop_log = Every()
        self._db: sqlite3.Connection | None = None
        self._rows = self._bytes = self._dropped = self._last_seq = 0
        # Why the file cannot be used, while events are held in memory (None: they are in the file).
        self.unavailable: str | None = None
        self._retry_at, self._retries = 0.0, 0
        # While in memory after the file failed under us: its rows up to the first seq were read back into memory, but
        # for the range that could not be (reported lost): what it still holds of the others when it opens again is in
        # memory or was delivered meanwhile, and goes; the unread ones are sent late rather than never.
        self._forget: tuple[int, int | None, int | None] = (0, None, None)
        self._notices: list[Replacement] = []  # the file failed under a write: for check() to report
        self.reopened = 0  # times memory was moved into the file: the rows before may now be older ones
        # The files opened, as (st_dev, st_ino) of the database and the WAL, their sizes at the last
        # check, and the oldest undelivered seq then: a loss found later is reported with that range.
        self._ids: tuple = ()
        self._db_size = 0
        self._oldest = 1
        self._check_at = 0.0
        # A descriptor of the database file held as long as the connection: reading the header through a
        # descriptor opened and closed each time would drop SQLite's POSIX locks on the file at the close.
        self._watch: int | None = None
        try:
            self._lockfile = _exclusive(self.path)
            self._open()
        except _Unavailable as exc:
            self._in_memory(str(exc))
        except BaseException:
            if self._lockfile is not None:
                self._lockfile.close()
            raise

    # --- opening, and recovery from damage ---
    def _open(self) -> None:
        existed = self.path.exists() and not (self.path.is_file() and self.path.stat().st_size == 0)
        try:
            fresh = self._connect()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", None) == "SQLITE_BUSY":  # its .lock file was deleted under it
                raise _in_use(self.path) from None
            if not _is_damage(exc, self.path):
                raise _Unavailable(f"outbox {self.path} cannot be opened: {exc}") from None
            moved = self._move_aside()
            try:
                self._connect()
            except sqlite3.DatabaseError as again:
                raise _Unavailable(f"outbox {self.path} was damaged ({exc}) and a new one cannot be made: "
                                   f"{again}") from None
            self._continue_above_mark(f"outbox {self.path} was damaged ({exc})", moved)
            return
        if fresh and self._mark.reserved:
            what = "had lost its seq record" if existed else "was missing or empty"
            self._continue_above_mark(f"outbox {self.path} {what}", None)
        elif self._last_seq > self._mark.reserved:  # an outbox from before the mark file existed
            self._mark.cover(self._last_seq)

    def _connect(self) -> bool:
        """Open and check the database; True if it had no seq record yet (a new file)."""
        if self.path.is_dir():
            raise sqlite3.DatabaseError(f"{self.path} is a directory")
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        try:
            # One process owns the outbox: with the database locked for the connection's life, SQLite keeps the WAL
            # index in its own memory instead of a mmapped -shm file (which a truncation or a failing disk under it
            # turned into a SIGBUS, a silent exit 135), and a second opener is refused at once.
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("PRAGMA journal_mode=WAL")
            page = db.execute("PRAGMA page_size").fetchone()[0]
            wal_pages = max(16, min(MAX_WAL_PAGES, self.max_bytes // 8 // page))
            db.execute(f"PRAGMA wal_autocheckpoint={wal_pages}")
            db.execute(f"PRAGMA journal_size_limit={wal_pages * page}")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check found damage")
            fresh = not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
            db.executescript(SCHEMA)
            rows, size = db.execute("SELECT count(*), coalesce(sum(size), 0) FROM outbox").fetchone()
            db.execute("SELECT seq, topic, payload, size FROM outbox LIMIT 0").fetchall()
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if not {"last_seq", "dropped"} <= meta.keys():
                raise sqlite3.DatabaseError("meta rows missing")
        except BaseException:
            db.close()
            raise
        self._db, self._rows, self._bytes = db, rows, size
        self._last_seq, self._dropped = meta["last_seq"], meta["dropped"]
        self._ids, self._db_size = _identity(self.path), 0
        self._unwatch()
        try:
            self._watch = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._watch = None
        self._oldest = db.execute("SELECT coalesce(min(seq), ?) FROM outbox", (self._last_seq + 1,)).fetchone()[0]
        return fresh

    def _move_aside(self) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while os.path.lexists(target):  # damaged twice in one second: keep both
            target, n = self.path.with_name(f"{self.path.name}.damaged-{stamp}.{n}"), n + 1
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if os.path.lexists(src):
                try:
                    os.rename(src, f"{target}{suffix}")
                except OSError as exc:
                    raise OutboxError(f"outbox {self.path} is damaged and cannot be moved aside: "
                                      f"{exc.strerror or exc}") from None
        kept = [p for p in self.path.parent.glob(f"{self.path.name}.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
        for old in sorted(kept, key=lambda p: os.lstat(p).st_mtime)[:-KEEP_DAMAGED]:
            for suffix in ("", "-wal", "-shm"):
                _remove(Path(f"{old}{suffix}"))
        return str(target)

    def _continue_above_mark(self, reason: str, moved_to: str | None) -> None:
        """A new (or reset) outbox: its seq goes on above everything the mark may have handed out."""
        start = self._mark.reserved
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (start,))
        self._last_seq = start
        self.recovered = Recovery(reason, moved_to, start + 1)
        log.error("%s", self.recovered.message)

    def _in_memory(self, why: str, carried: list[tuple] | None = None,
                   unread: tuple[int | None, int | None] = (None, None)) -> None:
        """The file cannot be used: hold events in an in-memory database with the same bounds, and try the
        file again with backoff. ``carried``: the undelivered rows read back from the file, whose last seq is
        known then, and ``unread`` the seq range of those that could not be; None: the file was never read,
        so seq goes on above every seq the mark may have handed out."""
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        memory.executescript(SCHEMA)
        if carried is None:
            self._last_seq = max(self._last_seq, self._mark.reserved)
        memory.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (self._last_seq,))
        memory.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?)", carried or ())  # within the bounds already
        self._db = memory  # its meta counts the drops in memory
        self._rows, self._bytes = len(carried or ()), sum(row[3] for row in carried or ())
        self._forget = (0, None, None) if carried is None else (self._last_seq, *unread)
        self._ids, self._db_size = (), 0
        self.unavailable = why
        # The backoff goes on from the last time: a nearly full disk that takes the move back and refuses the next
        # write falls back here at most once a RETRY_MAX_S, not once a second (each time an error event).
        self._retry_at = time.monotonic() + backoff_delay(self._retries, RETRY_MIN_S, RETRY_MAX_S)
        log.error("%s; events are held in memory (at most %d rows / %d bytes, the oldest dropped and counted) "
                  "and the file is tried again", why, self.max_rows, self.max_bytes)

    def _to_file(self, now: bool = False) -> int | None:
        """Under the lock, while in memory: try the file again (with backoff, or ``now``). Once it opens,
        move what memory holds into it, with its seqs; the number of events moved, or None if not yet."""
        if time.monotonic() < self._retry_at and not now:
            return None
        self._retries += 1
        self._retry_at = time.monotonic() + backoff_delay(self._retries, RETRY_MIN_S, RETRY_MAX_S)
        memory, held = self._db, (self._rows, self._bytes, self._last_seq, self._dropped)
        rows = memory.execute("SELECT seq, topic, payload, size FROM outbox ORDER BY seq").fetchall()
        dropped = memory.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()[0]
        try:
            if self._lockfile is None:
                self._lockfile = _exclusive(self.path)
            self._open()
            self._fill(rows, max(self._last_seq, held[2]), dropped, self._forget)
        except (OutboxError, ConfigError, sqlite3.Error, OSError) as exc:  # ConfigError: the path is in the way now
            if self._db is not memory:
                self._db.close()
            self._unwatch()
            self._db, (self._rows, self._bytes, self._last_seq, self._dropped) = memory, held
            self.unavailable = str(exc) if isinstance(exc, EdgeappError) else f"outbox {self.path}: {_why(exc)}"
            log.debug("%s; still in memory", self.unavailable)
            return None
        memory.close()
        self.unavailable = None
        self.reopened += 1
        log.warning("outbox %s opens again; %d events held in memory moved into it", self.path, len(rows))
        return len(rows)

    def _fill(self, rows: list[tuple], last_seq: int, dropped: int,
              forget: tuple[int, int | None, int | None] = (0, None, None)) -> None:
        """Under the lock, into the file just opened: ``rows`` (seq, topic, payload, size) with their seqs, in one
        durable transaction, the oldest dropped to stay within the bounds; seq goes on from ``last_seq``, and
        ``dropped`` are added to the file's count. ``forget``: (up to, but for first..last), the file's own rows
        that go first."""
        upto, first, last = forget
        self._mark.restore(last_seq)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM outbox WHERE seq <= ? AND seq NOT BETWEEN ? AND ?",
                         (upto, first or 0, last or -1))
        # OR IGNORE: only an outbox older than its seq mark could hold these seqs already
        self._db.executemany("INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?)", rows)
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (last_seq,))
        self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (dropped,))
        self._drop_oldest(*self._counts())
        self._db.execute("COMMIT")
        self._rows, self._bytes = self._counts()
        self._last_seq = last_seq
        self._dropped = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()[0]
        self._oldest = self._db.execute("SELECT coalesce(min(seq), ?) FROM outbox", (last_seq + 1,)).fetchone()[0]
        self._ids = _identity(self.path)  # with the WAL the transaction made

    def _counts(self) -> tuple[int, int]:
        return self._db.execute("SELECT count(*), coalesce(sum(size), 0) FROM outbox").fetchone()

    # --- the file under the running publisher ---
    def check(self, force: bool = False) -> Replacement | None:
        """At most once per CHECK_S (or now, ``force``): is the file at the path still the one
        open, and whole? If not, carry what the connection still reads into a new outbox."""
        with self._lock:
            if self._notices:
                return self._notices.pop(0)
            now = time.monotonic()
            if self.unavailable is not None:
                self._to_file(force)  # also when no event comes, so the file takes the rows soon
                return None
            if self._db is None or (now < self._check_at and not force):
                return None
            self._check_at = now + CHECK_S
            problem = self._file_problem()
            if problem is None:
                self._oldest = self._db.execute("SELECT coalesce(min(seq), ?) FROM outbox",
                                                (self._last_seq + 1,)).fetchone()[0]
                return None
            replaced = self._replace(problem)
        log.error("%s", replaced.message)
        return replaced

    def _file_problem(self) -> str | None:
        if _identity(self.path) != self._ids:
            missing = not os.path.lexists(self.path)
            return f"outbox {self.path} was {'deleted' if missing else 'replaced'} while open"
        if self._watch is None:
            return None
        head, size = os.pread(self._watch, len(DB_MAGIC), 0), os.fstat(self._watch).st_size
        wal_head, wal_size = _head(Path(f"{self.path}-wal"), 4)  # SQLite locks the -shm, never the WAL
        # Without auto_vacuum SQLite never shrinks the database file, and a WAL always starts
        # with its magic; and the schema written at open means the two are never both empty.
        if size < self._db_size or (size and head != DB_MAGIC) or (wal_size >= 4 and wal_head not in WAL_MAGICS) \
                or size + wal_size == 0:
            return f"outbox {self.path} was emptied or cut short while open"
        self._db_size = size
        return None

    def _replace(self, problem: str) -> Replacement:
        """Under the lock: read back the undelivered rows, start a new outbox at the path, put them
        in with their seqs. seq goes on from where it was (the seqs read back are not reused)."""
        last_seq, dropped = self._last_seq, self._dropped
        rows, lost = self._read_back()
        moved, held_in = None, None
        try:
            if any(os.path.lexists(f"{self.path}{s}") for s in ("", "-wal", "-shm")):
                moved = self._move_aside()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connect()
            self._fill(rows, last_seq, dropped)
        except (OutboxError, sqlite3.Error, OSError) as exc:  # the directory went read-only, the disk is full...
            if self._db is not None:
                self._db.close()
                self._db = None
            self._unwatch()
            held_in = str(exc) if isinstance(exc, OutboxError) else \
                f"outbox {self.path} could not be made again: {_why(exc)}"
            self._last_seq, self._dropped = last_seq, dropped  # not a new file's, if one was opened
            self._in_memory(held_in, rows, lost[1:])
        return Replacement(problem, moved, len(rows), *lost, held_in)

    def _read_back(self) -> tuple[list[tuple], tuple[int, int | None, int | None]]:
        """Under the lock, when the file is left: the undelivered rows the connection still reads, and
        (count, first seq, last seq) of those it cannot; the connection is closed."""
        rows = []
        try:
            if self._db.in_transaction:  # a write that failed (SQLite may have ended it already)
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        try:  # row by row: what the page cache still holds before the first page that is gone is kept
            # (committed rows only: a rollback that failed leaves the batch's in view)
            for row in self._db.execute("SELECT seq, topic, payload, size FROM outbox WHERE seq <= ? ORDER BY seq",
                                        (self._last_seq,)):
                rows.append(row)
        except sqlite3.Error as exc:
            log.debug("outbox %s: read back %d rows, then %s", self.path, len(rows), exc)
        try:
            self._db.close()
        except sqlite3.Error:
            pass
        self._db = None
        self._unwatch()
        lost = max(0, self._rows - len(rows))
        carried = {row[0] for row in rows}
        seqs = [s for s in range(self._oldest, self._last_seq + 1) if s not in carried] if lost else []
        return rows, (lost, seqs[0] if seqs else None, seqs[-1] if seqs else None)

    def _written(self, write: Callable[[], T]) -> T:
        """Under the lock: ``write`` (one transaction), and if the disk fails under it (read-only, an I/O error,
        full), the undelivered rows moved into memory, as when the file cannot be opened at start, and ``write``
        there. One ``Replacement`` says so, through ``check()``."""
        try:
            return write()
        except (sqlite3.Error, OSError) as exc:
            if self.unavailable is not None or not _disk_failed(exc):
                raise
            why = _why(exc)
            rows, lost = self._read_back()
            self._in_memory(f"outbox {self.path} could not be written: {why}", rows, lost[1:])
            self._notices.append(Replacement(f"outbox {self.path} could not be written", None, len(rows), *lost,
                                             in_memory=why))
        return write()

    def _unwatch(self) -> None:
        """Only once the connection is closed (its locks go with it anyway)."""
        if self._watch is not None:
            os.close(self._watch)
            self._watch = None

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

    @contextmanager
    def held(self) -> Iterator[None]:
        """No writer runs inside: for audits that compare the counts with the file."""
        with self._lock:
            yield

    def append(self, drafts: Sequence[Draft]) -> AppendResult:
        """Store a batch in one durable transaction (one fsync for the batch)."""
        result = AppendResult()
        with self._lock:
            if self.unavailable is not None:
                self._to_file()  # the seqs below count on from the file if it opens
            seq, added, added_bytes = self._last_seq, [], 0
            for i, draft in enumerate(drafts):
                try:
                    topic, payload = draft(seq + 1)
                except Exception as exc:  # a producer's bad event must not lose the others
                    result.refused.append((i, exc))
                    continue
                seq += 1
                added.append((seq, topic, payload, len(payload)))
                added_bytes += len(payload)
            if not added:
                return result
            try:
                dropped, freed = self._written(lambda: self._insert(added, added_bytes))
            except (sqlite3.Error, OSError) as exc:
                self._abandon()
                first, self._last_seq = self._last_seq + 1, seq  # skipped: a consumer sees the gap
                raise StoreError(f"outbox {self.path} could not store {len(added)} events: {_why(exc)}",
                                 first, seq, result.refused) from None
            self._rows += len(added) - dropped
            self._bytes += added_bytes - freed
            self._last_seq = seq
            self._dropped += dropped
            result.dropped = dropped
            result.seqs = [row[0] for row in added]
        due = self._drop_log.add(result.dropped) if result.dropped else None
        if due:
            log.warning("outbox full (%d rows / %d bytes max): dropped the %d oldest events (one line a minute at "
                        "most; the count is since the last one)", self.max_rows, self.max_bytes, due)
        return result

    def _insert(self, added: list[tuple], added_bytes: int) -> tuple[int, int]:
        """Under the lock: the batch in one durable transaction; the (rows, bytes) dropped to stay within the bounds."""
        if self.unavailable is None:
            self._mark.cover(added[-1][0])  # before the seqs exist anywhere (in memory they cannot be marked)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?)", added)
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (added[-1][0],))
        dropped = self._drop_oldest(self._rows + len(added), self._bytes + added_bytes)
        self._db.execute("COMMIT")
        return dropped

    def give_back(self, seq: int) -> None:
        """The last seq of a failed write may be used again if nothing was stored since: it was never
        stored nor seen anywhere (the publisher's gap notice, which must not widen the gap it reports)."""
        with self._lock:
            if self._last_seq == seq:
                self._last_seq -= 1

    def _abandon(self) -> None:
        """After a failed write: end the transaction (SQLite may have ended it already), make the
        counts those of the file again, and give a full disk back what the WAL holds."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._rows, self._bytes = self._counts()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.debug("outbox %s: cleanup after a failed write: %s", self.path, exc)

    def _drop_oldest(self, rows: int, size: int) -> tuple[int, int]:
        """Inside the append transaction: remove the oldest rows until within both bounds.
        ``rows``/``size`` are the counts including the batch; returns (rows, bytes) removed."""
        if rows <= self.max_rows and size <= self.max_bytes:
            return 0, 0
        excess_rows, excess_bytes = rows - self.max_rows, size - self.max_bytes
        n, freed, last = 0, 0, None
        for seq, row_size in self._db.execute("SELECT seq, size FROM outbox ORDER BY seq"):
            if n >= excess_rows and freed >= excess_bytes:
                break
            n, freed, last = n + 1, freed + row_size, seq
        self._db.execute("DELETE FROM outbox WHERE seq <= ?", (last,))
        self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (n,))
        return n, freed

    def peek(self, after_seq: int, limit: int) -> list[Message]:
        """The oldest ``limit`` messages with a seq above ``after_seq``, in seq order."""
        with self._lock:
            if self._db is None:
                return []
            rows = self._db.execute("SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (after_seq, limit)).fetchall()
        return [Message(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def delete(self, seqs: Iterable[int]) -> int:
        """Forget acknowledged messages. Seqs already dropped are ignored. Raises ``OutboxError``
        when the deletion cannot be written (a damaged file): the rows stay, and may be sent again."""
        seqs = list(seqs)
        if not seqs:
            return 0
        with self._lock:
            if self._db is None:
                return 0
            try:
                n, freed = self._written(lambda: self._remove_rows(seqs))
            except (sqlite3.Error, OSError) as exc:
                self._abandon()
                raise OutboxError(f"outbox {self.path} could not forget {len(seqs)} delivered events: "
                                  f"{_why(exc)}") from None
            self._rows -= n
            self._bytes -= freed
        return n

    def _remove_rows(self, seqs: list[int]) -> tuple[int, int]:
        """Under the lock: one transaction; the (rows, bytes) removed."""
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("BEGIN IMMEDIATE")
        n, freed = 0, 0
        for seq in seqs:
            row = self._db.execute("DELETE FROM outbox WHERE seq = ? RETURNING size", (seq,)).fetchone()
            if row:
                n, freed = n + 1, freed + row[0]
        self._db.execute("COMMIT")
        return n, freed

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._unwatch()
            if self._lockfile is not None:
                self._lockfile.close()


class _Unavailable(OutboxError):
    """The database cannot be opened now (a full disk, an I/O error): retried, not fatal."""


def _why(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _disk_failed(exc: Exception) -> bool:
    if isinstance(exc, OSError):  # the seq mark's write
        return exc.errno in TRANSIENT_ERRNOS
    return getattr(exc, "sqlite_errorname", "").startswith(DISK_FAILURES)


def _is_damage(exc: sqlite3.DatabaseError, path: Path) -> bool:
    """Damage is what a new file cures; a full disk, a permission or a lock is not."""
    return path.is_dir() or getattr(exc, "sqlite_errorname", "SQLITE_CORRUPT") in DAMAGE_CODES


def _identity(path: Path) -> tuple:
    """(st_dev, st_ino) of the database and of its WAL; None for one that is not there."""
    ids = []
    for p in (path, Path(f"{path}-wal")):
        try:
            st = os.stat(p)
            ids.append((st.st_dev, st.st_ino))
        except OSError:
            ids.append(None)
    return tuple(ids)


def _head(path: Path, n: int) -> tuple[bytes, int]:
    """The first ``n`` bytes of a file and its size; (b"", 0) when it is not there."""
    try:
        with open(path, "rb") as f:
            return f.read(n), os.fstat(f.fileno()).st_size
    except OSError:
        return b"", 0


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            import shutil

            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
    except OSError:
        pass


def _exclusive(path: Path):
    """Two publishers on one outbox would reuse seqs: refuse, naming the file. The kernel
    drops the lock when the holder dies, so a kill -9 never leaves it stale."""
    lock = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock, "a")
    except OSError as exc:
        if exc.errno in TRANSIENT_ERRNOS:  # the disk, not the setup: it may recover while the service runs
            raise _Unavailable(f"cannot use {lock}: {exc.strerror or exc}") from None
        # The state directory is the operator's to set up: a config-class problem, not a restart.
        raise ConfigError("mqtt.outbox_path", f"cannot use {lock}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise _in_use(path) from None
    return f


def _in_use(path: Path) -> OutboxError:
    return OutboxError(f"outbox {path} is in use by another publisher")
