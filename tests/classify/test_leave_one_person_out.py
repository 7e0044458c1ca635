"""Leave-one-person-out's per-person figures come from the device's own open-set rule (PoseClassifier.decide),
given the folds' probabilities: no TensorFlow needed, so both profiles run these."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from support.shared import REPO
from edgeapp.classify.classifier import PoseClassifier
from edgeapp.classify.recipe import PersonResult, choose_thresholds, person_results

from .helpers import cpu, stock_classifier

SHIPPED = REPO / "models" / "yoga-lightning" / "classifier.tflite"  # chair cobra dog tree warrior other


def row(pose: int, p_pose: float, p_other: float = 0.0, classes: int = 6) -> np.ndarray:
    """A probability row (float32, as the model gives it) with ``p_pose`` on one pose and the rest spread."""
    p = np.full(classes, (1.0 - p_pose - p_other) / (classes - 2 if p_other else classes - 1), dtype=np.float32)
    p[pose] = p_pose
    if p_other:
        p[-1] = p_other
    return p


def test_the_other_threshold_decides_as_on_the_device():
    device = PoseClassifier.open(SHIPPED, request=cpu())
    limit = float(np.float32(0.6))  # chosen among the float32 outputs, as choose_thresholds does
    decider = PoseClassifier(device.model, replace(device.contract, other_threshold=limit))
    probs = np.stack([row(3, 0.35, np.float32(limit)),  # "other" exactly at the threshold: the pose (tree)
                      row(3, 0.3, 0.61),  # over it: other
                      row(0, 0.9),  # chair, but the truth is tree: wrong, not other
                      row(3, 0.2, 0.7),  # over it, but the body guard refused the row: refused only
                      row(4, 0.95)])  # warrior, right (the second person)
    truth = ["tree", "tree", "tree", "tree", "warrior"]
    person = np.array(["girl1"] * 4 + ["guy1"])
    refused = np.array([False, False, False, True, False])
    got = person_results(decider, probs, truth, person, refused, ("girl1", "guy1"))
    assert got == [PersonResult("girl1", 4, right=1, other=1, refused=1), PersonResult("guy1", 1, 1, 0, 0)]


def test_min_probability_decides_in_the_device_precision():
    # No "other" output: the cap (0.9) is chosen, and a winner of float32(0.9) = 0.89999998 is under it on the
    # device (Python floats), which a float32 comparison with 0.9 would have called equal, so not under.
    stock = stock_classifier()
    p = np.stack([row(3, 0.95 + 0.0001 * i, classes=5) for i in range(200)])
    thresholds, rule = choose_thresholds(p, None, None)
    assert thresholds == {"other_threshold": None, "min_probability": 0.9} and "winning probability" in rule
    decider = PoseClassifier(stock.model, replace(stock.contract, **thresholds))
    edge = np.stack([row(3, np.float32(0.9), classes=5), row(3, 0.91, classes=5)])
    got = person_results(decider, edge, ["tree", "tree"], np.array(["girl2", "girl2"]), np.zeros(2, bool),
                         ("girl2",))
    assert got == [PersonResult("girl2", 2, right=1, other=1, refused=0)]


def test_thresholds_with_held_out_negatives_balance_the_two_errors():
    p = np.stack([row(0, 0.9, 0.05), row(1, 0.7, 0.2), row(2, 0.5, 0.4)])
    p_neg = np.stack([row(0, 0.2, 0.3), row(0, 0.1, 0.45), row(0, 0.1, 0.8), row(1, 0.05, 0.9)])
    thresholds, rule = choose_thresholds(p, 5, p_neg, negatives=4)
    # "other" over 0.4: no true pose answered "other" and one negative in four (0.3) named as a pose; over 0.2
    # or 0.3 a true pose (0.4) would be lost, over 0.45 two negatives named
    assert thresholds == {"other_threshold": pytest.approx(0.4), "min_probability": 0.0}
    assert "(4 poses) named as a pose (25.00% at it)" in rule
