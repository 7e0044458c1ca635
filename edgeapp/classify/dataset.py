"""Keypoint tables in the pose-classification tutorial's CSV format.

Header (53 columns + file name)::

    file_name,NOSE_x,NOSE_y,NOSE_score,LEFT_EYE_x,...,RIGHT_ANKLE_score,class_no,class_name

The columns hold what they are named: per keypoint, **x then y** in image pixels
(integers, truncated like the TF sample), then the score. That is the notebook's
layout, and ``../shared/data/yoga/{train,test}_data.csv`` follow it. It is *not* the
stock classifier's input order, (y, x, score): :mod:`edgeapp.classify.contract`
reorders when it builds the model input, so a table never has to be "pre-swapped".

Some published CSVs name their columns x, y but hold y, x (e.g. the
``alt_nntruong1907`` files). Read those with ``columns="yx"``; the table in memory
is always (x, y).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeapp.classify.contract import NUM_KEYPOINTS
from edgeapp.errors import ClassifyError, EdgeappError
from edgeapp.pose.keypoint import KEYPOINT_NAMES


class DatasetError(ClassifyError):
    """A keypoint CSV is malformed; the message names the file and the row or column."""


class WriteError(EdgeappError):
    """An output file cannot be written (a runtime failure, exit 1): the message names the path."""

    def __init__(self, path: Path, exc: OSError):
        super().__init__(f"cannot write {path}: {exc.strerror or exc}")


HEADER: tuple[str, ...] = (
    "file_name",
    *(f"{name.upper()}_{part}" for name in KEYPOINT_NAMES for part in ("x", "y", "score")),
    "class_no",
    "class_name",
)


@dataclass(frozen=True, eq=False)
class KeypointTable:
    """``xy`` ``[N, 17, 2]`` (x, y) pixels, ``scores`` ``[N, 17]``, ``class_no`` ``[N]`` into ``labels``."""

    files: tuple[str, ...]
    xy: np.ndarray
    scores: np.ndarray
    class_no: np.ndarray
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.files)

    def counts(self) -> dict[str, int]:
        n = np.bincount(self.class_no, minlength=len(self.labels))
        return {label: int(c) for label, c in zip(self.labels, n)}


def read_csv(path: Path, columns: str = "xy") -> KeypointTable:
    """Read a tutorial CSV. ``columns="xy"``: the columns hold what they are named (the default);
    ``"yx"``: the file is mislabelled and each ``_x`` column holds y."""
    if columns not in ("xy", "yx"):
        raise DatasetError(f"columns must be 'xy' or 'yx', got {columns!r}")
    path = Path(path)
    try:
        # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark that would stick to column 1
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise DatasetError(f"cannot read keypoint CSV {path}: {exc}") from exc
    except UnicodeDecodeError:  # a video or an image given where a CSV belongs
        raise DatasetError(f"{path} is not a keypoint CSV (not UTF-8 text)") from None
    if not rows:
        raise DatasetError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    # Case-insensitive: some published files use nose_x instead of NOSE_x.
    if [h.lower() for h in header] != [h.lower() for h in HEADER]:
        bad = next((i for i, (a, b) in enumerate(zip(header, HEADER)) if a.lower() != b.lower()), min(len(header), len(HEADER)))
        got = header[bad] if bad < len(header) else "(missing)"
        want = HEADER[bad] if bad < len(HEADER) else "(nothing)"
        raise DatasetError(
            f"{path}: not the tutorial's keypoint CSV layout: column {bad + 1} is {got!r}, expected {want!r} "
            f"({len(header)} columns, expected {len(HEADER)})"
        )
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    if not body:
        raise DatasetError(f"{path}: no data rows")
    n = len(body)
    values = np.empty((n, NUM_KEYPOINTS * 3), dtype=np.float64)
    class_no = np.empty(n, dtype=np.int64)
    names: dict[int, str] = {}
    files = []
    for i, row in enumerate(body):
        line = i + 2
        if len(row) != len(HEADER):
            raise DatasetError(f"{path} line {line}: {len(row)} fields, expected {len(HEADER)}")
        files.append(row[0])
        try:
            values[i] = [float(v) for v in row[1:-2]]
            class_no[i] = int(float(row[-2]))
        except ValueError as exc:
            raise DatasetError(f"{path} line {line}: {exc}") from None
        name = row[-1].strip()
        if names.setdefault(int(class_no[i]), name) != name:
            raise DatasetError(
                f"{path} line {line}: class_no {class_no[i]} is {name!r} here but {names[int(class_no[i])]!r} earlier"
            )
    if not np.isfinite(values).all():
        line = int(np.argwhere(~np.isfinite(values))[0, 0]) + 2
        raise DatasetError(f"{path} line {line}: non-finite keypoint value")
    if class_no.min() < 0 or sorted(names) != list(range(len(names))):
        raise DatasetError(f"{path}: class_no values must be 0..{len(names) - 1} with none missing, got {sorted(names)}")
    labels = tuple(names[k] for k in range(len(names)))
    if len(set(labels)) != len(labels):
        raise DatasetError(f"{path}: one class_name under several class_no values: {labels}")
    kp = values.reshape(n, NUM_KEYPOINTS, 3)
    xy = kp[:, :, :2] if columns == "xy" else kp[:, :, 1::-1]
    return KeypointTable(tuple(files), np.ascontiguousarray(xy), kp[:, :, 2].copy(), class_no, labels)


def write_csv(path: Path, table: KeypointTable) -> None:
    """Write the tutorial layout: x then y (integer pixels), then the score, per keypoint."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            for i, name in enumerate(table.files):
                w.writerow(_row(table, i, name))
    except OSError as exc:
        raise WriteError(path, exc) from None


def _row(table: KeypointTable, i: int, name: str) -> list[str]:
    cells = [name]
    for k in range(NUM_KEYPOINTS):
        x, y = table.xy[i, k]
        cells += [_num(x), _num(y), f"{table.scores[i, k]:.6f}"]
    no = int(table.class_no[i])
    return cells + [str(no), table.labels[no]]


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def thin(table: KeypointTable, every: int | None) -> KeypointTable:
    """Every ``every``-th row (a capped run); the table itself for None or 1."""
    if not every or every == 1:
        return table
    return subset(table, np.arange(0, len(table), every))


def subset(table: KeypointTable, rows: np.ndarray) -> KeypointTable:
    return KeypointTable(tuple(table.files[i] for i in rows), table.xy[rows], table.scores[rows],
                         table.class_no[rows], table.labels)


def relabel(table: KeypointTable, labels: tuple[str, ...]) -> KeypointTable:
    """The same rows with ``class_no`` into ``labels``, which must hold each of the table's classes."""
    missing = [c for c in table.labels if c not in labels]
    if missing:
        raise DatasetError(f"classes {missing} are not among {list(labels)}")
    index = np.array([labels.index(c) for c in table.labels], dtype=np.int64)
    return KeypointTable(table.files, table.xy, table.scores, index[table.class_no], tuple(labels))


def concat(tables: list[KeypointTable]) -> KeypointTable:
    """Tables with the same classes, one after the other."""
    first = tables[0]
    for t in tables[1:]:
        if t.labels != first.labels:
            raise DatasetError(f"cannot join keypoint tables with classes {list(first.labels)} and {list(t.labels)}")
    return KeypointTable(sum((t.files for t in tables), ()), np.concatenate([t.xy for t in tables]),
                         np.concatenate([t.scores for t in tables]), np.concatenate([t.class_no for t in tables]),
                         first.labels)
