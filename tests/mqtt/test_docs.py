"""docs/events.md stays true: each example payload decodes with the real schema."""

from __future__ import annotations

import json
import re

from support.shared import REPO
from edgeapp.events import EVENT_TYPES, decode
from edgeapp.mqtt.commands import FEATURES
from edgeapp.mqtt.publisher import MqttStats

DOC = REPO / "docs" / "events.md"


def examples() -> list[dict]:
    found = []
    for block in re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S):
        text, decoder = block.strip(), json.JSONDecoder()
        while text:
            obj, end = decoder.raw_decode(text)
            found.append(obj)
            text = text[end:].strip()
    return found


def test_every_example_decodes_and_every_kind_has_one():
    kinds = set()
    for example in examples():
        received = decode(json.dumps(example))
        kinds.add(received.event.kind)
    assert kinds == set(EVENT_TYPES)


def test_the_stats_example_shows_every_publisher_counter():
    stats = next(e for e in examples() if e["event"] == "stats")
    assert set(stats["mqtt"]) == set(MqttStats.__dataclass_fields__)


def test_every_topic_and_feature_is_documented():
    text = DOC.read_text()
    for kind in EVENT_TYPES:
        assert f"<prefix>/<device>/events/{kind}`" in text
    for feature in FEATURES:
        assert f"| `{feature}` |" in text
