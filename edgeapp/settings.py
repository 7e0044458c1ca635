"""The one config reader: a typed dataclass from a TOML table, every error naming its key path, all at once.

Every table is a frozen dataclass whose fields are its keys, each with its
default and a comment saying what it does (``systemd/config.example.toml``
lists them all, and a test keeps the two in step). :func:`read` builds one from
a parsed table: a wrong type, an unknown key (a typo would otherwise be silently
ignored) or a value the table's ``check`` refuses is reported with its key path
(``pantilt.pan.kp``), and every such error in the file is reported together, so
one run of ``edgeapp config check`` shows everything to fix. A key that moved to
another table is named with its new place (the table's ``MOVED_KEYS``), never ignored.

Validation has one style: a table may define ``check(self, problems)`` and
call ``problems.require(ok, "key", "message")`` for each rule; ``check`` runs
once the table's own values have the right types (a table whose values do not
is reported for those, and its cross-key rules wait for the next run).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, TypeVar

from edgeapp.errors import ConfigError

T = TypeVar("T")

# Field metadata: the base a present table starts from when it differs from the field's default when absent
# (``[mqtt]`` left out means no broker; written, even empty, it means the broker with the defaults).
WHEN_PRESENT = "when_present"


class ConfigErrors(ConfigError):
    """Several configuration errors, one line each; ``path`` and ``message`` are the first one's."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        ConfigError.__init__(self, errors[0].path, errors[0].message)
        self.args = (f"{len(errors)} errors in the config:\n  " + "\n  ".join(str(e) for e in errors),)


class Problems:
    """The errors found so far; :meth:`require` notes one and goes on, so all of them are reported together."""

    def __init__(self, path: str = ""):
        self.path = path
        self.errors: list[ConfigError] = []

    def require(self, ok: bool, key: str, message: str) -> bool:
        """``ok``, or note ``message`` against ``key`` (relative to this table)."""
        if not ok:
            self.add(key, message)
        return ok

    def add(self, key: str, message: str) -> None:
        self.errors.append(ConfigError(_join(self.path, key), message))

    def within(self, key: str) -> Problems:
        """The problems of a sub-table, noted here."""
        sub = Problems(_join(self.path, key))
        sub.errors = self.errors
        return sub

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Note a ConfigError raised inside (e.g. a file that cannot be read) instead of letting it stop the read."""
        try:
            yield
        except ConfigErrors as exc:
            self.errors.extend(exc.errors)
        except ConfigError as exc:
            self.errors.append(exc)

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ConfigErrors(list(self.errors))


def read(cls: type[T], table: Mapping[str, Any] | None, path: str = "") -> T:
    """An instance of dataclass ``cls`` from ``table`` (missing keys keep their defaults), or ConfigError
    (ConfigErrors when there are several) naming every bad key."""
    problems = Problems(path)
    obj = _read(cls, table, problems, None)
    problems.raise_any()
    return obj  # type: ignore[return-value]


def _read(cls: type, table: Any, problems: Problems, base: Any) -> Any:
    """``cls`` from ``table``, noting errors; None when the table's values are wrong (its check cannot run).
    ``base``: the instance whose values missing keys keep (a sub-table's field default, e.g. tilt's range)."""
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        problems.add("", f"must be a table, got {type(table).__name__}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    moved = getattr(cls, "MOVED_KEYS", {})
    values, wrong = {}, set()
    for key, value in table.items():
        f = fields.get(key)
        if f is None and key in moved:
            problems.add(str(key), f"has moved to {moved[key]}: set it there (this key is no longer read)")
            continue
        if f is None:
            close = difflib.get_close_matches(str(key).replace("-", "_"), list(fields), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(fields))}"
            problems.add(str(key), f"unknown key{hint}")
            continue
        before = len(problems.errors)
        coerced = _coerce(hints[key], value, problems.within(key), _present_default(f))
        if len(problems.errors) == before:
            values[key] = coerced
        elif isinstance(coerced, dict) or _is_table(coerced):  # a sub-table keeps its good values
            values[key] = coerced
            wrong |= {e.path for e in problems.errors[before:]}
        else:
            wrong.add(_join(problems.path, str(key)))
    if base is not None:
        values = {**{name: getattr(base, name) for name in fields}, **values}
    # A wrong value stands in as its default, so every other key still meets its checks; the rules
    # on a wrong key (or a table holding one) are skipped: it is reported once, for its type.
    obj = cls(**values)
    check = getattr(obj, "check", None)
    if check is not None:
        check(_Skipping(problems, wrong) if wrong else problems)
    return obj


def _is_table(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


class _Skipping(Problems):
    """``problems`` less any error on the key paths in ``wrong`` (or under them)."""

    def __init__(self, problems: Problems, wrong: set[str]):
        super().__init__(problems.path)
        self.errors = problems.errors
        self.wrong = wrong

    def add(self, key: str, message: str) -> None:
        path = _join(self.path, key)
        if not any(path == w or path.startswith((w + ".", w + "[")) for w in self.wrong):
            super().add(key, message)

    def within(self, key: str) -> Problems:
        sub = _Skipping(self, self.wrong)
        sub.path = _join(self.path, key)
        return sub


def field_default(f: dataclasses.Field) -> Any:
    """A field's default value (calling its factory), None when it has none."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _present_default(f: dataclasses.Field) -> Any:
    when_present = f.metadata.get(WHEN_PRESENT)
    return when_present() if when_present is not None else field_default(f)


def _join(path: str, key: str) -> str:
    if not key or not path:
        return path or key
    return f"{path}{key}" if key.startswith("[") else f"{path}.{key}"


def _coerce(tp, value, problems: Problems, default: Any = None):
    """``value`` as type ``tp``, or a noted error (and None)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _read(tp, value, problems, default if isinstance(default, tp) else None)
    if origin is dict:  # a table of named tables ([exercise.<name>]): the names are the user's
        if not isinstance(value, Mapping):
            problems.add("", f"must be a table of tables, got {type(value).__name__}")
            return None
        item = typing.get_args(tp)[1]
        items = {str(k): _coerce(item, v, problems.within(str(k))) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not None}  # one that is not a table is noted, left out
    if origin is typing.Union or origin is types.UnionType:
        if value is None:
            return None
        return _coerce(next(a for a in typing.get_args(tp) if a is not type(None)), value, problems)
    message = _type_problem(tp, origin, value)
    if message:
        problems.add("", message)
        return None
    if tp is float:
        return float(value)
    if origin is tuple:  # tuple[str, ...]: a TOML array, or a comma-separated string for CLI convenience
        if isinstance(value, str):
            value = [v for v in (s.strip() for s in value.split(",")) if v]
        item = typing.get_args(tp)[0]
        return tuple(_coerce(item, v, problems.within(f"[{i}]")) for i, v in enumerate(value))
    return value


def _type_problem(tp, origin, value) -> str:
    """Why ``value`` is not a ``tp`` ("" when it is)."""
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        return "" if value in choices else f"must be one of {', '.join(map(str, choices))}, got {value!r}"
    if tp is bool:
        return "" if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if tp is int:
        whole = isinstance(value, int) and not isinstance(value, bool)
        return "" if whole else f"must be a whole number, got {value!r}"
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        return "" if math.isfinite(value) else f"must be a finite number, got {value!r}"
    if tp is str:
        return "" if isinstance(value, str) else f"must be a string, got {value!r}"
    if origin is tuple:
        return "" if isinstance(value, (str, list, tuple)) else f"must be a list, got {value!r}"
    raise TypeError(f"settings: unsupported field type {tp!r}")  # a programming error, not the user's
