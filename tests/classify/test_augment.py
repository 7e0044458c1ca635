"""Training-time variants of keypoint rows (augment.py): pure numpy, run in both profiles."""

from __future__ import annotations

import numpy as np

from edgeapp.classify.augment import Augmentation, augment, mirrored


def test_mirror_swaps_left_and_right():
    xy = np.zeros((1, 17, 2))
    xy[0, :, 0] = np.arange(17)
    xy[0, 11, 0], xy[0, 12, 0] = 10.0, 20.0  # hips: the centre is 15
    scores = np.arange(17, dtype=np.float64)[None] / 20
    mxy, ms = mirrored(xy, scores)
    assert ms[0, 5] == scores[0, 6] and ms[0, 0] == scores[0, 0]  # shoulders swap, the nose stays
    assert mxy[0, 5, 0] == 30 - xy[0, 6, 0]  # the right shoulder, mirrored about the hips, is the new left
    twice, _ = mirrored(mxy, ms)
    np.testing.assert_allclose(twice, xy)


def test_augment_keeps_labels_and_drops_joints():
    rng = np.random.default_rng(0)
    xy = rng.uniform(100, 300, (10, 17, 2))
    scores = np.full((10, 17), 0.9)
    labels = np.arange(10) % 3
    axy, ascores, alabels = augment(xy, scores, labels, Augmentation(copies=3, dropout=0.2), rng)
    assert len(axy) == len(ascores) == len(alabels) == 40
    np.testing.assert_array_equal(alabels[:10], labels)
    np.testing.assert_array_equal(alabels[10:13], [0, 0, 0])  # each copy keeps its row's label
    assert 0.1 < (ascores[10:] == 0).mean() < 0.3 and (ascores[:10] == 0.9).all()
    assert (axy[10:] == np.trunc(axy[10:])).all()  # whole pixels, like the extractor's rows
