"""Typed configuration tables: a dataclass built from a TOML table, every error naming its key path.

The service's config loader hands each table (``[detect]``, ``[pantilt]``, ...)
to ``SomeConfig.from_dict(table, "pantilt")``; a wrong type, an out-of-range
value or an unknown key (a typo would otherwise be silently ignored) raises
``ConfigError("pantilt.pan.kp", ...)`` so the message points at the line to fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from typing import Any, Mapping, TypeVar

from edgeapp.errors import ConfigError

T = TypeVar("T")


def require(ok: bool, path: str, message: str) -> None:
    if not ok:
        raise ConfigError(path, message)


def read(cls: type[T], table: Mapping[str, Any] | None, path: str, base: Any = None) -> T:
    """An instance of dataclass ``cls`` from ``table``; missing keys keep their defaults (``base``'s, if given:
    a sub-table's missing keys keep the defaults of the field that holds it, e.g. tilt's narrower range)."""
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        raise ConfigError(path, f"must be a table, got {type(table).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in table:
        if key not in fields:
            close = difflib.get_close_matches(str(key).replace("-", "_"), list(fields), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(fields))}"
            raise ConfigError(_join(path, str(key)), f"unknown key{hint}")
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(hints[name], value, _join(path, name), _field_default(fields[name]))
              for name, value in table.items()}
    if base is not None:
        values = {**{name: getattr(base, name) for name in fields}, **values}
    try:
        obj = cls(**values)
    except ConfigError as exc:  # a dataclass that validates itself names keys relative to its table
        raise ConfigError(_join(path, exc.path), exc.message) from None
    check = getattr(obj, "check", None)
    if check is not None:
        check(path)
    return obj


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _coerce(tp, value, path: str, default: Any = None):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return read(tp, value, path, default if isinstance(default, tp) else None)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(path, f"must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if origin is typing.Union or origin is getattr(__import__("types"), "UnionType", None):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(args[0], value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"must be a whole number, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(path, f"must be a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"must be a string, got {value!r}")
        return value
    if origin is tuple:  # tuple[str, ...]: a TOML array, or a comma-separated string for CLI convenience
        if isinstance(value, str):
            value = [v for v in (s.strip() for s in value.split(",")) if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(path, f"must be a list, got {value!r}")
        item = typing.get_args(tp)[0]
        return tuple(_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    raise TypeError(f"settings: unsupported field type {tp!r} at {path}")  # a programming error
