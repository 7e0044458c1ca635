"""The seq high-water mark: a small file beside the outbox that damage to the outbox cannot reach.

The outbox keeps its last seq in its own database, but a database can be lost: truncated,
scribbled, replaced by a directory, moved aside by an operator. Consumers deduplicate on
(device, seq), so a seq given twice makes them discard a real event. This file holds a
*reservation*: the outbox may hand out seqs up to the number in it, and reserves the next block
(``BLOCK`` seqs) before it passes the old one, so the file is written once per ``BLOCK`` events,
never per event. A new outbox made after damage starts above the reservation: a gap of at most
``BLOCK`` seqs, never a repeat.

The file is replaced atomically (write a temporary file, fsync, rename, fsync the directory), so
a power cut leaves either the old or the new reservation, both safe.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

BLOCK = 10_000
MAGIC = "edgeapp-seq-reserved"


class SeqMark:
    def __init__(self, path: Path):
        self.path = path
        self.reserved = self._read()

    def _read(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("seq mark %s is unreadable (%s); relying on the outbox's own last seq", self.path, exc)
            return 0
        magic, _, number = text.strip().partition(" ")
        if magic != MAGIC or not number.isdigit():
            log.warning("seq mark %s is damaged; relying on the outbox's own last seq", self.path)
            return 0
        return int(number)

    def cover(self, seq: int) -> None:
        """Make sure seqs up to ``seq`` are reserved (a file write once per BLOCK). Raises OSError
        when the reservation cannot be written (a full disk): the seqs must not be used then."""
        if seq <= self.reserved:
            return
        reserved = seq + BLOCK
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                os.write(fd, f"{MAGIC} {reserved}\n".encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        _fsync_dir(self.path.parent)
        self.reserved = reserved


    def restore(self, seq: int) -> None:
        """Write the reservation again if the file went (deleted with the outbox beside it)."""
        if not self.path.exists():
            self.reserved = 0
        self.cover(seq)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
