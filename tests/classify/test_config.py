"""The ``classify`` config section and the stage the service builds from it."""

from __future__ import annotations

import pytest

from support.shared import DATA, IMAGES
from edgeapp.classify import ClassifyConfig, ClassifyStage, HoldConfig, PoseHeld, PoseStarted
from edgeapp.errors import ConfigError
from edgeapp.registry import DEFAULT_MODELS, Registry
from edgeapp.settings import read

from .helpers import still_pose


def test_defaults():
    c = read(ClassifyConfig, {}, "classify")
    # the shipped model, no all-keypoints gate, smoothing on
    assert c == ClassifyConfig() and c.model == DEFAULT_MODELS["classify"] and c.threshold == 0.0 and c.top_k == 3
    assert c.hold == HoldConfig() and read(ClassifyConfig, None, "classify") == c
    assert c.smoothing.enabled and c.smoothing.probability_tau_s == 0.25


def test_full_section():
    c = read(ClassifyConfig, {"model": "my.tflite", "labels": "l.txt", "threshold": 0.2,
                              "top_k": 5, "threads": 2,
                              "hold": {"confirm_frames": 5, "confirm_s": 1, "release_frames": 2,
                                       "release_s": 0.5, "milestone_s": 10}}, "classify")
    assert (c.model, c.labels, c.threshold, c.top_k, c.threads) == ("my.tflite", "l.txt", 0.2, 5, 2)
    assert c.hold == HoldConfig(5, 1.0, 2, 0.5, 10.0)


@pytest.mark.parametrize("d, path", [
    ({"threshold": 1.5}, "classify.threshold"),
    ({"threshold": "0.1"}, "classify.threshold"),
    ({"top_k": 0}, "classify.top_k"),
    ({"top_k": 2.0}, "classify.top_k"),
    ({"enabled": True}, "classify.enabled"),  # [tasks] classify switches it; a second switch would be ignored
    ({"model": ""}, "classify.model"),
    ({"model": 3}, "classify.model"),
    ({"treshold": 0.1}, "classify.treshold"),
    ({"hold": {"confirm_s": -1}}, "classify.hold.confirm_s"),
    ({"smoothing": {"enabled": "yes"}}, "classify.smoothing.enabled"),
    ({"smoothing": {"probability_tau_s": 0}}, "classify.smoothing.probability_tau_s"),
    ({"smoothing": {"tau": 1}}, "classify.smoothing.tau"),
    ({"hold": {"confirm_frames": True}}, "classify.hold.confirm_frames"),
    ({"hold": {"milestone": 5}}, "classify.hold.milestone"),
    ({"hold": 5}, "classify.hold"),
])
def test_bad_values_name_the_key(d, path):
    with pytest.raises(ConfigError) as e:
        read(ClassifyConfig, d, "classify")
    assert e.value.path == path and path in str(e.value)


def test_path_prefix_is_the_callers():
    with pytest.raises(ConfigError) as e:
        read(ClassifyConfig, {"top_k": -1}, "yoga")
    assert e.value.path == "yoga.top_k"


def test_stage_from_config_with_the_registry():
    """The service's call: config -> stage -> per frame (pose, frame time) -> label, hold, events."""
    registry = Registry(DATA / "models")  # the registry layout of the shared models
    stage = ClassifyStage.from_config(read(ClassifyConfig, {"hold": {"confirm_frames": 2, "confirm_s": 0.1}}, "classify"),
                                      registry)
    assert stage.classifier.labels == ("chair", "cobra", "dog", "tree", "warrior", "other")  # the shipped model
    tree = still_pose(IMAGES / "tfex_pose_image3_tree.jpeg")
    results = [stage.update(tree if i % 7 else None, i / 10) for i in range(70)]  # a dropout every 7th frame
    started = [e for r in results for e in r.events if isinstance(e, PoseStarted)]
    held = [e for r in results for e in r.events if isinstance(e, PoseHeld)]
    assert [e.label for e in started] == ["tree"] and [e.milestone_s for e in held] == [5.0]
    last = results[-1]
    assert last.answer.label == "tree" and last.hold.current == "tree"
    assert last.hold.started_at == pytest.approx(0.1)  # frame 0 had no person
    assert last.hold.held_s == pytest.approx(6.8)
    d = last.to_dict()
    assert d["label"] == "tree" and d["hold"]["current"] == "tree" and d["events"] == []
    (end,) = stage.finish()
    assert end.label == "tree" and end.ended_at == pytest.approx(6.9) and end.held_s == pytest.approx(6.8)
