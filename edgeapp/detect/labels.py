"""Label files for detection models, in the shapes they come in.

* one label per line, line k = class k (Coral's ``coco_labels.txt``);
* the same with a background line first (TF1 ``labelmap.txt`` starts with
  ``???``): the model's class k is then line k+1, because the post-processing
  op already dropped the background class;
* ``id label`` (or ``id: label``) lines, as pycoral's ``read_label_file`` reads;
* ``n/a`` (or ``???``) entries are holes: COCO's 90-id space has 10 ids with no
  category, and a model never means them.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Iterable, Literal, Mapping

import numpy as np

from edgeapp.errors import ConfigError, ModelError

BACKGROUND_NAMES = frozenset({"???", "background", "__background__"})
HOLE_NAMES = frozenset({"n/a", "???", ""})
_ID_LINE = re.compile(r"^\s*(\d+)\s*[:\s]\s*(.*?)\s*$")

Background = Literal["auto", "yes", "no"]


class Labels:
    """Class id to name. Holes (``n/a``) map to None and are never reported."""

    def __init__(self, names: Mapping[int, str | None], source: str = ""):
        self._names = dict(names)
        self.source = source
        self._by_name: dict[str, list[int]] = {}
        for i, n in sorted(self._names.items()):
            if n is not None:
                self._by_name.setdefault(n.casefold(), []).append(i)

    @classmethod
    def from_file(cls, path: Path | str, background: Background = "auto") -> Labels:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # -sig: files saved on Windows may carry a BOM
        except FileNotFoundError:
            raise ModelError(f"labels file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"cannot read labels file {path}: {exc}") from exc
        return cls.from_lines(text.splitlines(), source=str(path), background=background)

    @classmethod
    def from_lines(cls, lines: Iterable[str], source: str = "", background: Background = "auto") -> Labels:
        lines = [line.strip() for line in lines]
        while lines and not lines[-1]:
            lines.pop()
        if not lines:
            raise ModelError(f"labels file {source or '(lines)'} is empty")
        entries: dict[int, str] = {}
        if _ID_LINE.match(lines[0]) and not lines[0].isdigit():
            for n, line in enumerate(lines, 1):
                if not line:
                    continue
                m = _ID_LINE.match(line)
                if m is None:
                    raise ModelError(f"labels file {source}:{n}: expected 'id label', got {line!r}")
                class_id = int(m.group(1))
                if class_id in entries:
                    raise ModelError(f"labels file {source}:{n}: id {class_id} appears twice")
                entries[class_id] = m.group(2)
        else:
            entries = dict(enumerate(lines))
        shift = {"yes": True, "no": False}.get(background)
        if shift is None:
            if background != "auto":
                raise ConfigError("detect.labels_background", f"must be auto, yes or no, got {background!r}")
            shift = entries.get(0, "").casefold() in BACKGROUND_NAMES
        if shift:
            entries = {i - 1: name for i, name in entries.items() if i > 0}
        names = {i: (None if name.casefold() in HOLE_NAMES else name) for i, name in entries.items()}
        return cls(names, source)

    def name(self, class_id: int) -> str | None:
        """The class's name; None for a hole. An id beyond the file is named by its number, as pycoral does."""
        if class_id in self._names:
            return self._names[class_id]
        return str(class_id)

    def ids_of(self, names: Iterable[str], key_path: str) -> frozenset[int]:
        """The ids of ``names`` (case-insensitive); an unknown name is a ConfigError at ``key_path``."""
        ids: set[int] = set()
        for name in names:
            found = self._by_name.get(name.strip().casefold())
            if found is None:
                close = difflib.get_close_matches(name.casefold(), list(self._by_name), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(key_path, f"{name!r} is not a label in {self.source or 'the labels'}{hint}")
            ids.update(found)
        return frozenset(ids)

    def class_mask(self, allow: frozenset[int] | None, deny: frozenset[int], size: int) -> np.ndarray:
        """A boolean lookup table over class ids ``0..size-1``: True where a detection is kept.

        Built once, so filtering a frame's detections is one fancy index, not a loop over names.
        """
        mask = np.ones(size, dtype=bool)
        if allow is not None:
            mask[:] = False
            mask[[i for i in allow if 0 <= i < size]] = True
        mask[[i for i in deny if 0 <= i < size]] = False
        for i, n in self._names.items():  # holes are never real classes
            if n is None and 0 <= i < size:
                mask[i] = False
        return mask

    @property
    def max_id(self) -> int:
        return max(self._names) if self._names else -1

    def __len__(self) -> int:
        return sum(1 for n in self._names.values() if n is not None)

    def __iter__(self):
        return ((i, n) for i, n in sorted(self._names.items()) if n is not None)
