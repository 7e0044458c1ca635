"""MOTChallenge text files: ``frame,id,x,y,w,h[,score,...]`` in pixels, top-left corner and size,
frames counted from 1. Ground truth (``gt.txt``) and detections (``det.txt``, id -1) share it."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from edgeapp.detect.detection import BBox
from edgeapp.errors import EdgeappError, EXIT_USAGE


class MotFileError(EdgeappError):
    """A MOTChallenge file is missing or has a line that is not ``frame,id,x,y,w,h,...``."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class MotBox:
    id: int | None  # None: a detection no track owns
    box: BBox  # pixels, xyxy
    score: float = 1.0


def read_mot(path: str | Path, ignored: bool = True) -> dict[int, list[MotBox]]:
    """Boxes per frame. With ``ignored``, ground-truth rows marked not to evaluate (a 7th column
    ``0`` in MOT16+ files; MOT15 writes -1 or 1 there) are left out. Raises :class:`MotFileError`
    naming the first bad line."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise MotFileError(f"cannot read {path}: {exc}") from None
    frames: dict[int, list[MotBox]] = defaultdict(list)
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = parse_line(line, path, n)
        if row is None:
            continue
        frame, box = row
        if ignored and box.score == 0.0:
            continue
        frames[frame].append(box)
    return dict(frames)


def parse_line(line: str, path: Path, n: int) -> tuple[int, MotBox] | None:
    parts = [p.strip() for p in line.split(",")]
    where = f"{path}:{n}"
    if len(parts) < 6:
        raise MotFileError(f"{where}: expected frame,id,x,y,w,h[,score,...], got {line.strip()!r}")
    try:
        values = [float(p) for p in parts[:7]]
    except ValueError:
        raise MotFileError(f"{where}: not numbers: {line.strip()!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise MotFileError(f"{where}: not finite: {line.strip()!r}")
    frame, ident, x, y, w, h = values[:6]
    if frame < 1 or frame != int(frame) or ident != int(ident):
        raise MotFileError(f"{where}: frame must be a whole number from 1 and id a whole number: {line.strip()!r}")
    if w <= 0 or h <= 0:
        raise MotFileError(f"{where}: width and height must be positive: {line.strip()!r}")
    score = values[6] if len(values) > 6 else 1.0
    return int(frame), MotBox(int(ident), BBox(x, y, x + w, y + h), score)
