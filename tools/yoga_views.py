"""Leave-one-person-out experiments on viewpoint: does any cheap change to the embedding or the augmentation
make a keypoint classifier trained on four people name the poses of the fifth, seen from another angle?

Closed set (the five poses, no negatives), the device recipe's network (51 -> 128 -> 64 -> 5, relu6, dropout 0.5)
on the masked embedding (joints under 0.2 zeroed, the 17 visibility flags appended), 4 augmented copies per row,
60 epochs, batch 128, seed 42. Needs the train extra (TensorFlow):

    edgeapp classifier extract ../shared/data/yoga/yoga_poses_train --out pos.csv
    python tools/yoga_views.py pos.csv

prints one line per variant: the share of each held-out person's photos given the right pose.
"""

import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from edgeapp.classify.augment import mirrored  # noqa: E402
from edgeapp.classify.calibrate import person_of  # noqa: E402
from edgeapp.classify.dataset import read_csv  # noqa: E402

HIPS, SHOULDERS, MASK = [11, 12], [5, 6], 0.2


def rotation(t):
    c, s = np.cos(t), np.sin(t)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def embed(xy, scores, upright=False):
    """The device model's in-graph embedding; ``upright`` first turns each pose so its torso points up."""
    seen = (scores >= MASK).astype(np.float64)
    hips = xy[:, HIPS].mean(1)
    torso = xy[:, SHOULDERS].mean(1) - hips
    c = xy - hips[:, None]
    if upright:
        c = np.einsum("nij,nkj->nki", rotation(-np.arctan2(torso[:, 0], -torso[:, 1])), c)
    c = c * seen[..., None]
    size = np.maximum(2.5 * np.linalg.norm(torso, axis=1), np.linalg.norm(c, axis=1).max(-1))
    e = np.nan_to_num(c / np.maximum(size, 1e-6)[:, None, None]).reshape(len(xy), 34)
    return np.concatenate([e, seen], 1).astype(np.float32)


def augment(xy, scores, y, rng, copies=4, rot=15.0, scale=0.2, foreshorten=0.0, jitter=0.02, drop=0.1):
    """augment.py's variants, plus ``foreshorten``: a squash by up to that share along a random axis (the pose
    seen from another elevation or azimuth, for a roughly planar body)."""
    n = len(xy) * copies
    rxy, rs = np.repeat(xy, copies, 0), np.repeat(scores, copies, 0)
    flip = rng.random(n) < 0.5
    rxy[flip], rs[flip] = mirrored(rxy[flip], rs[flip])
    centre = rxy[:, HIPS].mean(1, keepdims=True)
    torso = np.linalg.norm(rxy[:, SHOULDERS].mean(1) - centre[:, 0], axis=1)
    m = rotation(np.deg2rad(rng.uniform(-rot, rot, n))) * rng.uniform(1 - scale, 1 + scale, n)[:, None, None]
    if foreshorten:
        phi, squash = rng.uniform(0, np.pi, n), np.zeros((n, 2, 2))
        squash[:, 0, 0], squash[:, 1, 1] = 1.0, rng.uniform(1 - foreshorten, 1, n)
        m = m @ rotation(phi) @ squash @ rotation(-phi)
    out = np.einsum("nij,nkj->nki", m, rxy - centre) + centre
    out += rng.normal(0, 1, out.shape) * (jitter * torso)[:, None, None]
    rs = np.where(rng.random(rs.shape) < drop, 0.0, rs)
    return np.concatenate([xy, np.trunc(out)]), np.concatenate([scores, rs]), np.concatenate([y, np.repeat(y, copies)])


def network(k):
    import keras
    import tensorflow as tf

    i = keras.Input((51,))
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(128, activation=tf.nn.relu6)(i))
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(64, activation=tf.nn.relu6)(x))
    m = keras.Model(i, keras.layers.Dense(k, activation="softmax")(x))
    m.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
    return m


def lopo(table, upright=False, **aug):
    import keras

    keras.utils.set_random_seed(42)
    rng = np.random.default_rng(42)
    person = np.array([person_of(f.split("/")[-1]) for f in table.files])
    k, right = len(table.labels), {}
    for p in np.unique(person):
        fit = person != p
        xy, s, y = augment(table.xy[fit], table.scores[fit], table.class_no[fit], rng, **aug)
        model = network(k)
        model.fit(embed(xy, s, upright), np.eye(k)[y], epochs=60, batch_size=128, verbose=0)
        guess = model.predict(embed(table.xy[~fit], table.scores[~fit], upright), verbose=0).argmax(1)
        right[p] = float((guess == table.class_no[~fit]).mean())
    return right


VARIANTS = {
    "the device recipe's augmentation (±15°, scale ±20%)": {},
    "+ any rotation (±180°)": {"rot": 180.0},
    "+ foreshortening up to 60%": {"foreshorten": 0.6},
    "+ any rotation and foreshortening": {"rot": 180.0, "foreshorten": 0.6},
    "upright embedding (torso turned to point up)": {"upright": True},
    "upright embedding + foreshortening": {"upright": True, "foreshorten": 0.6},
}

if __name__ == "__main__":
    table = read_csv(sys.argv[1])
    for name, kw in VARIANTS.items():
        right = lopo(table, **kw)
        print(f"{name}: " + ", ".join(f"{p} {100 * a:.1f}%" for p, a in right.items()), flush=True)
