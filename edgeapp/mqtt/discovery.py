"""Home Assistant MQTT discovery, device-based (one config message for the whole device).

Sent on connect and again whenever Home Assistant announces itself on
``homeassistant/status`` = ``online`` (its birth message), so it is not retained: a
device removed from the fleet then disappears from Home Assistant at its next restart.
"""

from __future__ import annotations

import json

from edgeapp import __version__
from edgeapp.mqtt.commands import FEATURES
from edgeapp.mqtt.config import MAX_POSE_RATE
from edgeapp.mqtt.topics import Topics

# "stopped" (a clean shutdown) is as unavailable as "offline" to Home Assistant.
AVAILABILITY_TEMPLATE = "{{ 'online' if value == 'online' else 'offline' }}"
# A reset's set_ended still carries the count that was reset; the counter shows 0 from then on.
REPS = "{{ 0 if value_json.reason == 'reset' else value_json.count }}"
CURRENT_POSE = "{{ value_json.label if value_json.type != 'ended' else 'none' }}"


def discovery_payload(topics: Topics, commands: tuple[str, ...], qos: int = 1) -> dict:
    """Sensors for the current pose, its hold time, person present, fps and backend, plus an
    entity for each command feature the service registered a handler for."""
    node = topics.discovery_node
    components = {
        f"{node}_pose": _sensor("Pose", topics.event("pose_class"), CURRENT_POSE, icon="mdi:yoga"),
        f"{node}_hold_time": _sensor("Hold time", topics.event("pose_class"), "{{ value_json.held_s }}",
                                     unit="s", device_class="duration"),
        f"{node}_person": {"p": "binary_sensor", "name": "Person present", "stat_t": topics.event("pose"),
                           "val_tpl": "{{ 'ON' if value_json.person else 'OFF' }}", "dev_cla": "occupancy"},
        f"{node}_fps": _sensor("FPS", topics.event("stats"), "{{ value_json.fps }}", unit="fps",
                               diagnostic=True, state_class="measurement"),
        f"{node}_backend": _sensor("Backend", topics.event("stats"), "{{ value_json.backend }}", diagnostic=True),
    }
    if "exercise" in commands:  # the rep counter runs (tasks.reps)
        components[f"{node}_reps"] = _sensor("Reps", topics.event("rep"), REPS,
                                             icon="mdi:counter", state_class="total_increasing")
    for feature in commands:
        components[f"{node}_{feature}"] = _command_entity(topics, feature)
    for object_id, component in components.items():
        component["uniq_id"] = object_id
    return {
        "dev": {"ids": [node], "name": f"edgeapp {topics.device}", "mf": "edgeapp", "mdl": "edgeapp pose appliance",
                "sw": __version__},
        "o": {"name": "edgeapp", "sw": __version__},  # no public project URL to give (o.url is optional)
        "avty": [{"t": topics.available, "val_tpl": AVAILABILITY_TEMPLATE}],
        "qos": qos,
        "cmps": components,
    }


def discovery_message(topics: Topics, commands: tuple[str, ...], qos: int = 1) -> tuple[str, str]:
    return topics.discovery, json.dumps(discovery_payload(topics, commands, qos), separators=(",", ":"))


def _sensor(name: str, state_topic: str, template: str, unit: str | None = None, device_class: str | None = None,
            icon: str | None = None, diagnostic: bool = False, state_class: str | None = None) -> dict:
    options = {"unit_of_meas": unit, "dev_cla": device_class, "ic": icon, "stat_cla": state_class,
               "ent_cat": "diagnostic" if diagnostic else None}
    return {"p": "sensor", "name": name, "stat_t": state_topic, "val_tpl": template,
            **{k: v for k, v in options.items() if v is not None}}


def _command_entity(topics: Topics, feature: str) -> dict:
    name = FEATURES[feature].help.capitalize()
    common = {"name": name, "cmd_t": topics.command(feature)}
    if feature == "pose_rate":
        return {"p": "number", **common, "stat_t": topics.state(feature), "min": 0, "max": MAX_POSE_RATE,
                "step": 0.5, "unit_of_meas": "Hz", "ent_cat": "config"}
    if feature in ("snapshot", "reps_reset"):
        return {"p": "button", **common}
    if feature == "exercise":
        return {"p": "text", **common, "stat_t": topics.state(feature), "pattern": "[a-z][a-z0-9_]*",
                "ent_cat": "config"}
    return {"p": "switch", **common, "stat_t": topics.state(feature), "ent_cat": "config"}
