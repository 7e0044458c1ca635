"""The event model and its JSON, without a broker."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgeapp.events import (EVENT_TYPES, SCHEMA_VERSION, DetectionEvent, EventError, PoseEvent, StatsEvent,
                            TrackingEvent, decode, encode)
from edgeapp.events.pose import pose_json

from .samples import one_of_each, pose_dict


def test_samples_cover_every_kind():
    assert {e.kind for e in one_of_each()} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", one_of_each(), ids=lambda e: f"{e.kind}-{getattr(e, 'type', '')}")
def test_every_event_round_trips_with_the_envelope(event):
    payload = encode(event, "pi-7", 42)
    d = json.loads(payload)
    assert (d["schema"], d["event"], d["device"], d["seq"], d["ts"]) == (SCHEMA_VERSION, event.kind, "pi-7", 42, event.ts)
    back = decode(payload)
    assert (back.device, back.seq) == ("pi-7", 42)
    if isinstance(event, StatsEvent):  # LatencySummary objects become their dicts
        assert back.event.models == event.models
    assert back.event == event


def test_pose_event_carries_the_keypoints_as_infer_pose_prints_them():
    pose = pose_dict()
    d = json.loads(encode(PoseEvent(pose=pose, frame=3), "d", 1))
    assert d["person"] is True and d["frame"] == 3
    assert {k: d[k] for k in ("score", "box", "keypoints")} == pose
    assert len(d["keypoints"]) == 17 and set(d["keypoints"][0]) == {"name", "x", "y", "px", "py", "score"}
    assert json.loads(encode(PoseEvent(pose=None), "d", 2))["person"] is False


def test_pose_event_from_a_pose_encodes_as_its_dict():
    import numpy as np

    from edgeapp.pose import Pose

    pose = Pose(xy=np.linspace(0.1, 0.9, 34).reshape(17, 2), scores=np.full(17, 0.7), frame_size=(640, 480))
    lazy = json.loads(encode(PoseEvent(pose=pose, frame=5, ts=1.0), "d", 1))
    eager = json.loads(encode(PoseEvent(pose=pose_json(pose), frame=5, ts=1.0), "d", 1))
    assert lazy == eager and lazy["person"] is True and len(lazy["keypoints"]) == 17
    with pytest.raises(EventError, match="pose must be a Pose"):
        PoseEvent(pose=[1, 2, 3])


def test_detection_new_has_before_equal_to_after_like_frigate():
    e = DetectionEvent(type="new", after={"id": "x", "label": "cat"})
    assert e.before == e.after


@pytest.mark.parametrize("build, words", [
    (lambda: TrackingEvent(type="spin", pan=0, tilt=0), "type must be one of"),
    (lambda: TrackingEvent(type="angles", pan=math.nan, tilt=0), "pan must be a finite number"),
    (lambda: TrackingEvent(type="angles", pan=True, tilt=0), "pan must be a finite number"),
    (lambda: DetectionEvent(type="update", after={"id": "x", "label": "cat"}), "needs the object as it was before"),
    (lambda: DetectionEvent(type="new", after={"label": "cat"}), "id, label"),
    (lambda: PoseEvent(pose={"score": 1}), "pose_json(pose)"),
    (lambda: StatsEvent(uptime_s=-math.inf), "uptime_s"),
])
def test_bad_events_are_refused_at_construction_naming_the_field(build, words):
    with pytest.raises(EventError, match=words.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_numpy_values_from_the_pipelines_encode():
    e = TrackingEvent(type="angles", pan=np.float32(1.5), tilt=np.float64(-2.0))
    d = json.loads(encode(e, "d", 1))
    assert (d["pan"], d["tilt"]) == (1.5, -2.0)


def test_nan_inside_a_free_form_dict_is_refused_not_sent_as_invalid_json():
    e = DetectionEvent(type="new", after={"id": "x", "label": "cat", "score": math.nan})
    with pytest.raises(ValueError):
        encode(e, "d", 1)


@pytest.mark.parametrize("payload, words", [
    (b"not json", "not JSON"),
    (b'{"schema": 1}', "envelope"),
    (b'{"schema": 2, "event": "pose", "device": "d", "seq": 1, "ts": 0}', "schema 2"),
    (b'{"schema": 1, "event": "weather", "device": "d", "seq": 1, "ts": 0}', "unknown event kind"),
    (b'{"schema": 1, "event": "error", "device": "d", "seq": 1, "ts": 0, "source": "x", "message": "m", "z": 1}',
     "unknown fields"),
])
def test_decode_names_what_is_wrong(payload, words):
    with pytest.raises(EventError, match=words):
        decode(payload)


def test_pose_events_of_a_tracked_person_carry_the_track_id():
    from edgeapp.classify.hold import PoseStarted
    from edgeapp.events import PoseClassEvent, decode, encode
    from edgeapp.pose.keypoint import Pose

    pose = Pose(xy=np.full((17, 2), 0.5), scores=np.full(17, 0.8), frame_size=(640, 480))
    seen = PoseEvent(pose=pose, frame=4, person_id=3)
    body = seen.body()
    assert body["person"] == 3 and body["present"] is True and len(body["keypoints"]) == 17
    back = decode(encode(seen, "dev", 1)).event
    assert back.person_id == 3 and back.person and back.pose["score"] == pytest.approx(0.8)
    gone = decode(encode(PoseEvent(pose=None, frame=9, person_id=3), "dev", 2)).event
    assert gone.person_id == 3 and not gone.person and gone.body() == {"person": 3, "present": False, "frame": 9}
    assert PoseEvent(pose=None, frame=9).body() == {"person": False, "frame": 9}  # the single-pose path as ever
    started = PoseClassEvent.from_hold(PoseStarted("tree", 2.5, 2.0, 0.5), score=0.9, person=3)
    assert started.body()["person"] == 3 and decode(encode(started, "dev", 3)).event.person == 3
    assert "person" not in PoseClassEvent.from_hold(PoseStarted("tree", 2.5, 2.0, 0.5)).body()
    with pytest.raises(EventError, match="person must be a track id"):
        PoseClassEvent(type="started", label="tree", held_s=0.5, person="3")
