"""Choosing the open-set threshold on held-out data, and leave-one-person-out splits.

The rule (docs/classification.md): a winning class whose probability is under
``min_probability`` is answered ``other``. The threshold is the largest value that
turns at most ``MAX_REFUSED`` (0.5%) of **held-out** true poses into ``other``: the
``MAX_REFUSED`` quantile of the winning probability over the poses of people the model
never saw (leave-one-person-out). Half the budget the issue allows (1%) is kept for
the body guard and for the people after the held-out ones. Negatives play no part in
choosing it (so their "other" rate measured afterwards is an honest figure), and the
threshold never goes above ``MAX_THRESHOLD``: a model that is unsure of its own poses
should be retrained, not hidden behind a threshold that refuses everything.

A model with an ``other`` output (trained on negatives) gets ``other_threshold`` instead,
on that output: the smallest value over which at most ``MAX_REFUSED`` of the held-out
true poses lie (:func:`other_threshold`), or, given negatives no fold was trained on,
the value that minimises the sum of the two error rates (:func:`balanced_other_threshold`).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import numpy as np

from edgeapp.classify.dataset import KeypointTable, subset

MAX_REFUSED = 0.005
MAX_THRESHOLD = 0.9
_PERSON = re.compile(r"^([A-Za-z]+\d*)_")


def person_of(file_name: str) -> str:
    """``chair/girl1_chair070.jpg`` -> ``girl1`` (the yoga_poses naming; its 37 ``guy_`` photos, all chair, are a person of their own); files without a prefix -> ``""``."""
    m = _PERSON.match(PurePosixPath(file_name).name)
    return m.group(1) if m else ""


def people(table: KeypointTable) -> tuple[str, ...]:
    return tuple(sorted({person_of(f) for f in table.files}))


def split_by_person(table: KeypointTable, person: str) -> tuple[KeypointTable, KeypointTable]:
    """(everyone else, this person)."""
    mine = np.array([person_of(f) == person for f in table.files])
    return subset(table, np.flatnonzero(~mine)), subset(table, np.flatnonzero(mine))


def open_set_threshold(winning: np.ndarray, max_refused: float = MAX_REFUSED) -> float:
    """The largest threshold under which at most ``max_refused`` of ``winning`` lie (capped at MAX_THRESHOLD)."""
    p = np.sort(np.asarray(winning, dtype=np.float64))
    if not len(p):
        return 0.0
    k = int(np.floor(max_refused * len(p)))
    return float(min(p[k], MAX_THRESHOLD))


def other_threshold(p_other: np.ndarray, max_refused: float = MAX_REFUSED) -> float:
    """The smallest threshold over which at most ``max_refused`` of ``p_other`` lie ("other" when above it)."""
    p = np.sort(np.asarray(p_other, dtype=np.float64))[::-1]
    k = int(np.floor(max_refused * len(p)))
    return float(p[k]) if len(p) else 0.5


def balanced_other_threshold(p_pos: np.ndarray, p_neg: np.ndarray) -> float:
    """The threshold on the "other" output that minimises the sum of the two error rates (Youden's J): held-out
    true poses answered "other" (p > t) plus held-out negatives named as a pose (p <= t)."""
    candidates = np.unique(np.concatenate([p_pos, p_neg, [0.0, 1.0]]))
    errors = [(p_pos > t).mean() + (p_neg <= t).mean() for t in candidates]
    return float(candidates[int(np.argmin(errors))])
