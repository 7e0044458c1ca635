"""Commands, Home Assistant discovery, and what an independent client (mosquitto_sub) sees."""

from __future__ import annotations

import json
import random
import subprocess
import threading

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgeapp.events import PoseEvent
from edgeapp.mqtt import Publisher
from edgeapp.mqtt.commands import MAX_COMMAND_BYTES

from .conftest import WAIT_S
from .samples import one_of_each, pose_dict

BASE = "edgeapp/dev1"


class Sender:
    """Another client, as Home Assistant or an operator would be."""

    def __init__(self, port: int):
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="test-sender")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic: str, payload, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def sender(broker):
    s = Sender(broker.port)
    yield s
    s.close()


@pytest.fixture
def service(broker, make_config):
    """A publisher with the service's handlers registered, as the pipeline would."""
    seen = {"tracking": [], "classification": [], "snapshot": []}

    def build(**overrides):
        pub = Publisher(make_config(broker.port, **overrides))
        pub.commands.register("tracking", seen["tracking"].append, initial=True)
        pub.commands.register("classification", seen["classification"].append, initial=False)
        pub.commands.register("snapshot", seen["snapshot"].append)
        pub.start()
        assert pub.wait_connected(WAIT_S)
        return pub, seen

    made = []
    yield lambda **kw: made.append(build(**kw)) or made[-1]
    for pub, _ in made:
        pub.close(drain_timeout=0)


def test_commands_switch_features_and_the_state_is_retained(broker, service, sender, recorders):
    pub, seen = service()
    rec = recorders(broker.port, f"{BASE}/+/state")
    rec.wait_for(lambda r: r.on(f"{BASE}/tracking/state") and r.on(f"{BASE}/classification/state"),
                 what="the initial states")
    assert rec.on(f"{BASE}/tracking/state")[-1].text == "ON"
    assert rec.on(f"{BASE}/classification/state")[-1].text == "OFF"
    assert rec.on(f"{BASE}/pose_rate/state")[-1].text == "30"

    sender.send(f"{BASE}/tracking/set", "OFF")
    sender.send(f"{BASE}/classification/set", "ON")
    sender.send(f"{BASE}/pose_rate/set", "0.5")
    sender.send(f"{BASE}/snapshot/set", "PRESS")
    rec.wait_for(lambda r: len(r.on(f"{BASE}/snapshot/state")) == 1, what="the snapshot state")
    assert seen["tracking"] == [False] and seen["classification"] == [True] and len(seen["snapshot"]) == 1
    assert pub.pose_rate == 0.5
    late = recorders(broker.port, f"{BASE}/+/state", client_id="late")
    late.wait_for(lambda r: len(r.messages) == 4, what="all four retained states")
    assert all(m.retain for m in late.messages)
    assert {m.topic.split("/")[2]: m.text for m in late.messages if m.topic != f"{BASE}/snapshot/state"} == {
        "tracking": "OFF", "classification": "ON", "pose_rate": "0.5"}


def test_pose_rate_command_thins_pose_events(broker, service, sender, recorders):
    pub, _ = service()
    sender.send(f"{BASE}/pose_rate/set", "0")
    rec = recorders(broker.port, f"{BASE}/pose_rate/state")
    rec.wait_for(lambda r: r.messages and r.messages[-1].text == "0", what="pose_rate 0")
    pose = pose_dict()
    taken = [pub.publish(PoseEvent(pose=p)) for p in (pose, pose, pose, None, None, pose)]
    assert taken == [True, False, False, True, False, True]  # at 0: only a person appearing or leaving
    assert pub.stats().pose_rate_limited == 3


def random_payload(rng: random.Random) -> bytes:
    """Everything a broken or hostile client might send."""
    choice = rng.randrange(9)
    if choice == 0:
        return rng.randbytes(rng.randrange(0, 64))
    if choice == 1:
        return rng.randbytes(MAX_COMMAND_BYTES + rng.randrange(1, 5000))
    if choice == 2:
        return json.dumps(rng.choice([None, [], {}, "x" * 10, {"state": "ON"}, [1, 2], -1, 1e308])).encode()
    if choice == 3:
        return str(rng.uniform(-100, 100)).encode()
    if choice == 4:
        return rng.choice([b"on", b"On", b"PRESS!", b"ON OFF", b"{", b'{"a":', b"NaN", b"-Infinity", b"1e999"])
    if choice == 5:
        return ("[" * rng.randrange(1, 200)).encode()
    if choice == 6:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 40))).encode()
    if choice == 7:
        return b""
    return rng.choice([b"ON", b"OFF", b"PRESS", b"2", b"true"])  # some are even valid


def test_fuzz_1000_commands_leave_it_running_and_answering(broker, service, sender, recorders):
    pub, _ = service()
    errors = recorders(broker.port, f"{BASE}/events/error")
    rng = random.Random(20240501)
    features = ["tracking", "classification", "pose_rate", "snapshot", "nope", "tracking/deeper", "%", "set"]
    matching = 0  # "tracking/deeper/set" is two levels: the +/set subscription never delivers it
    for _ in range(1000):
        feature = rng.choice(features)
        matching += "/" not in feature
        sender.send(f"{BASE}/{feature}/set", random_payload(rng))
    # Still answering: a good command after the storm takes effect and is confirmed.
    state = recorders(broker.port, f"{BASE}/tracking/state", client_id="state")
    sender.send(f"{BASE}/tracking/set", "OFF")
    sender.send(f"{BASE}/tracking/set", "ON")
    state.wait_for(lambda r: [m.text for m in r.messages][-2:] == ["OFF", "ON"], what="the answer after the fuzz")
    s = pub.stats()
    assert s.connected and s.commands_rejected > 500
    # Every command that reached the device got exactly one answer: applied, or one error event.
    assert s.commands_accepted + s.commands_rejected == matching + 2
    # ... and every rejection is an error event, or counted as held back by the 20-a-second budget.
    errors.wait_for(lambda r: len(r.messages) + pub.stats().errors_suppressed == s.commands_rejected,
                    what="one error event per rejection, or one count")
    assert 0 < len(errors.messages) <= s.commands_rejected
    assert pub.publish(one_of_each()[0]) and pub.drain(WAIT_S)


def test_discovery_is_off_by_default(broker, service, recorders):
    rec = recorders(broker.port, "#")
    pub, _ = service()
    pub.publish_stats()
    assert pub.drain(WAIT_S)
    # Discovery would go out on connect, before the stats event, on the same ordered connection.
    rec.wait_for(lambda r: r.events("stats"), what="the stats event")
    assert not [m.topic for m in rec.messages if m.topic.startswith("homeassistant/")]


def test_discovery_describes_the_device_and_is_resent_on_home_assistant_birth(broker, service, sender, recorders):
    rec = recorders(broker.port, "homeassistant/device/#")
    service(discovery=True)
    topic = "homeassistant/device/edgeapp_dev1/config"
    rec.wait_for(lambda r: r.on(topic), what="discovery on connect")
    d = rec.on(topic)[0].json
    assert d["dev"]["ids"] == ["edgeapp_dev1"] and d["o"]["name"] == "edgeapp"
    assert d["avty"][0]["t"] == f"{BASE}/available"
    cmps = d["cmps"]
    platforms = {k.removeprefix("edgeapp_dev1_"): v["p"] for k, v in cmps.items()}
    assert platforms == {"pose": "sensor", "hold_time": "sensor", "person": "binary_sensor", "fps": "sensor",
                         "backend": "sensor", "pose_rate": "number", "tracking": "switch",
                         "classification": "switch", "snapshot": "button"}
    assert all(v["uniq_id"] == k for k, v in cmps.items())
    assert cmps["edgeapp_dev1_pose"]["stat_t"] == f"{BASE}/events/pose_class"
    assert cmps["edgeapp_dev1_tracking"]["cmd_t"] == f"{BASE}/tracking/set"
    sender.send("homeassistant/status", "offline")
    sender.send("homeassistant/status", "online")
    rec.wait_for(lambda r: len(r.on(topic)) == 2, what="discovery again after the birth message")


def test_mosquitto_sub_sees_the_documented_topics(broker, service, recorders):
    """A second, independent client: the mosquitto CLI, not paho."""
    expected = {f"{BASE}/available", f"{BASE}/tracking/state", f"{BASE}/classification/state",
                f"{BASE}/pose_rate/state", *(f"{BASE}/events/{e.kind}" for e in one_of_each())}
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-v",
                            "-t", f"{BASE}/#", "-W", "20", "-C", str(len(expected) + 20)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    got_all = threading.Event()

    def read():
        for line in sub.stdout:
            lines.append(line.rstrip("\n"))
            if expected <= {ln.split(" ", 1)[0] for ln in lines}:
                got_all.set()

    reader = threading.Thread(target=read)
    reader.start()
    probe = recorders(broker.port, f"{BASE}/#", client_id="probe")  # mosquitto_sub subscribed once we see this
    pub, _ = service()
    probe.wait_for(lambda r: r.on(f"{BASE}/available"), what="online")
    for event in one_of_each():
        pub.publish(event)
    try:
        assert got_all.wait(WAIT_S), f"mosquitto_sub saw only {sorted({ln.split(' ', 1)[0] for ln in lines})}"
    finally:
        sub.terminate()
        reader.join()
    seen = dict(ln.split(" ", 1) for ln in lines if ln.split(" ", 1)[0] in (f"{BASE}/available",))
    assert seen[f"{BASE}/available"] == "online"
    stats = next(json.loads(ln.split(" ", 1)[1]) for ln in lines if ln.startswith(f"{BASE}/events/stats "))
    assert stats["schema"] == 1 and stats["device"] == "dev1" and stats["seq"] >= 1


def test_handlers_registered_after_start_are_announced(broker, make_config, publishers, recorders):
    """The service may register its handlers once the publisher is already connected."""
    rec = recorders(broker.port, "#")
    pub = publishers(make_config(broker.port, discovery=True))
    assert pub.wait_connected(WAIT_S)
    pub.commands.register("tracking", lambda on: None, initial=True)
    rec.wait_for(lambda r: r.on(f"{BASE}/tracking/state"), what="the state of a late handler")
    topic = "homeassistant/device/edgeapp_dev1/config"
    rec.wait_for(lambda r: any("edgeapp_dev1_tracking" in m.json["cmps"] for m in r.on(topic)),
                 what="discovery with the late switch")
