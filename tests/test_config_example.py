"""Every key of the typed config is documented: a comment beside its field, and a line in
``systemd/config.example.toml`` with its default.

A key may be commented out (``# username = "kiosk-1"``) only when its default cannot be written in TOML (None) or
differs by machine (the host name); every other key is written with exactly its default. A table appears
when any of its keys do; the check walks the dataclasses, so a new field without a line in the example fails.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import tomllib
import typing

from support.shared import REPO
from edgeapp.config import AppConfig, load_config
from edgeapp.settings import field_default, WHEN_PRESENT

EXAMPLE = REPO / "systemd" / "config.example.toml"


def commented_keys(text: str) -> set[str]:
    """Dotted paths of ``# key = value`` lines, by the table they sit in."""
    table, found = "", set()
    for line in text.splitlines():
        header = re.match(r"^\[([\w.]+)\]", line)
        if header:
            table = header.group(1)
        key = re.match(r"^#\s*(\w+)\s*=", line)
        if key:
            found.add(f"{table}.{key.group(1)}")
    return found


def leaves(cls: type, path: str = ""):
    """(dotted path, field, default when the table is written) for every key under ``cls``."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{path}.{f.name}" if path else f.name
        if typing.get_origin(hints[f.name]) is dict:  # a table of the user's named tables: no defaults to list
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            yield from leaves(hints[f.name], key)
        else:
            yield key, f


def table_default(path: str):
    """The default of a key, as a written table starts from (a field's own default, or its WHEN_PRESENT)."""
    *tables, key = path.split(".")
    obj, cls = None, AppConfig
    for name in tables:
        f = next(f for f in dataclasses.fields(cls) if f.name == name)
        obj = f.metadata[WHEN_PRESENT]() if WHEN_PRESENT in f.metadata else (
            getattr(obj, name) if obj is not None else field_default(f))
        cls = type(obj)
    return getattr(obj, key)


def lookup(data: dict, path: str):
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return KeyError
        data = data[part]
    return data


def plain(value):
    return list(value) if isinstance(value, tuple) else value


def problems(text: str) -> list[str]:
    data, commented = tomllib.loads(text), commented_keys(text)
    found = []
    for path, f in leaves(AppConfig):
        value, default = lookup(data, path), table_default(path)
        machine_dependent = f.default_factory is not dataclasses.MISSING
        if value is KeyError:
            if path in commented and (default is None or machine_dependent):
                continue
            found.append(f"{path} is missing (default {default!r})")
        elif plain(value) != plain(default):
            found.append(f"{path} = {value!r}, but its default is {default!r}")
    return found


def test_every_key_appears_with_its_default():
    assert problems(EXAMPLE.read_text()) == []
    load_config(EXAMPLE)  # and the file is a valid config


def test_the_check_fails_on_a_missing_key_or_a_wrong_default():
    text = EXAMPLE.read_text()
    without = re.sub(r"(?m)^scan_speed = .*\n", "", text)
    assert without != text and problems(without) == ["pantilt.scan_speed is missing (default 10.0)"]
    changed = re.sub(r"(?m)^port = 1883", "port = 1884", text)
    assert changed != text and problems(changed) == ["mqtt.port = 1884, but its default is 1883"]


def tables(cls: type = AppConfig):
    """Every table class under ``cls`` with its leaf keys (declared in it or a base)."""
    hints = typing.get_type_hints(cls)
    yield cls, [f.name for f in dataclasses.fields(cls) if not dataclasses.is_dataclass(hints[f.name])]
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from tables(hints[f.name])


def undocumented() -> list[str]:
    found = set()
    for cls, keys in tables():
        for owner in (c for c in cls.__mro__ if "__dataclass_fields__" in vars(c)):
            try:
                lines, _ = inspect.getsourcelines(owner)
            except (OSError, TypeError):  # made by make_dataclass: its own fields are sub-tables
                continue
            for node in ast.parse("".join(lines)).body[0].body:
                if isinstance(node, ast.AnnAssign) and node.target.id in keys and "#" not in lines[node.lineno - 1]:
                    found.add(f"{owner.__module__}.{owner.__name__}.{node.target.id}")
    return sorted(found)


def test_every_key_is_documented_beside_its_field():
    assert undocumented() == []
