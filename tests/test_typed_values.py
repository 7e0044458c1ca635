"""Stages pass typed values: no object rebuilt from another's dict (``Cls(**x.to_dict())``)."""

from __future__ import annotations

import re
from pathlib import Path

import edgeapp

ROUND_TRIP = re.compile(r"\w\s*\((?:[^()]*,\s*)?\*\*\s*[\w.\[\]]+\.(?:to_dict|as_dict)\(\)")


def test_no_dict_round_trip_into_a_constructor():
    root = Path(edgeapp.__file__).parent
    hits = [f"{p.relative_to(root)}:{n}: {line.strip()}"
            for p in sorted(root.rglob("*.py"))
            for n, line in enumerate(p.read_text().splitlines(), 1) if ROUND_TRIP.search(line)]
    assert not hits, "\n".join(hits)


def test_the_pattern_catches_what_it_should():
    assert ROUND_TRIP.search("self._emit(DetectionEvent(**event.to_dict()))")
    assert ROUND_TRIP.search("Foo(a, **b.c.to_dict())")
    assert not ROUND_TRIP.search("{**self.classification.to_dict(), 'x': 1}")
