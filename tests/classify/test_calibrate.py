"""The open-set threshold rules and the person of a file name (calibrate.py): pure numpy, run in both profiles."""

from __future__ import annotations

import numpy as np
import pytest

from edgeapp.classify.calibrate import open_set_threshold, other_threshold, person_of


def test_other_threshold_rule():
    p = np.linspace(0.0, 0.5, 1000)
    t = other_threshold(p)
    assert (p > t).mean() <= 0.005 and (p >= t).mean() > 0.005  # the smallest such threshold


def test_open_set_threshold_rule():
    w = np.linspace(0.5, 1.0, 1000)
    assert open_set_threshold(w) == pytest.approx(w[5])  # at most 0.5% of the held-out poses under it
    assert (w < open_set_threshold(w)).mean() <= 0.005
    assert open_set_threshold(np.ones(10)) == 0.9  # capped
    assert person_of("chair/girl1_chair070.jpg") == "girl1" and person_of("chair/guy_chair072.jpg") == "guy"
