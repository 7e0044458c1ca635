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


SMID, HMID = 17, 18  # virtual joints appended: shoulder midpoint, hip midpoint
# (parent, child, length in torso units), in tree order from the hip midpoint
BONES = [(HMID, SMID, 1.0), (HMID, 11, 0.3), (HMID, 12, 0.3), (SMID, 5, 0.4), (SMID, 6, 0.4), (SMID, 0, 0.5),
         (0, 1, 0.08), (0, 2, 0.08), (1, 3, 0.15), (2, 4, 0.15), (5, 7, 0.6), (6, 8, 0.6), (7, 9, 0.5), (8, 10, 0.5),
         (11, 13, 0.9), (12, 14, 0.9), (13, 15, 0.85), (14, 16, 0.85)]


def turn(xy, scores, rng, yaw=60.0, pitch=40.0, seen_at=0.2):
    """Each pose lifted to 3D from its foreshortened bones (Taylor 2000: the depth sign of each bone drawn at
    random), turned by up to ``yaw`` about the vertical and ``pitch`` about the horizontal axis, projected back."""
    n = len(xy)
    p = np.concatenate([xy, xy[:, [5, 6]].mean(1, keepdims=True), xy[:, [11, 12]].mean(1, keepdims=True)], 1)
    seen = np.concatenate([scores >= seen_at, np.ones((n, 2), bool)], 1)
    par, ch = np.array([b[0] for b in BONES]), np.array([b[1] for b in BONES])
    L = np.array([b[2] for b in BONES])
    d2 = np.linalg.norm(p[:, ch] - p[:, par], axis=-1)  # [n, bones]
    ok = seen[:, ch] & seen[:, par]
    big = L >= 0.3  # the face is too small and noisy to set the scale
    s = np.where(ok & big, d2 / L, 0).max(1, keepdims=True)  # the scale: no long bone longer than it can be
    dz = np.sqrt(np.maximum((L * s) ** 2 - d2 ** 2, 0)) * np.where(rng.random(d2.shape) < 0.5, -1, 1) * ok
    z = np.zeros((n, 19))
    for k, (a, b, _) in enumerate(BONES):
        z[:, b] = z[:, a] + dz[:, k]
    c = p[:, HMID:HMID + 1]
    x, y = p[..., 0] - c[..., 0], p[..., 1] - c[..., 1]
    ya, pi = np.deg2rad(rng.uniform(-yaw, yaw, (n, 1))), np.deg2rad(rng.uniform(-pitch, pitch, (n, 1)))
    x1, z1 = np.cos(ya) * x + np.sin(ya) * z, -np.sin(ya) * x + np.cos(ya) * z  # about the vertical axis
    y1 = np.cos(pi) * y - np.sin(pi) * z1  # about the horizontal axis
    return np.stack([x1, y1], -1)[:, :17] + c


def augment(xy, scores, y, rng, copies=4, rot=15.0, scale=0.2, foreshorten=0.0, jitter=0.02, drop=0.1, turn3d=None):
    """augment.py's variants, plus ``foreshorten``: a squash by up to that share along a random axis (the pose
    seen from another elevation or azimuth, for a roughly planar body); ``turn3d``: (yaw, pitch) for :func:`turn`."""
    n = len(xy) * copies
    rxy, rs = np.repeat(xy, copies, 0), np.repeat(scores, copies, 0)
    flip = rng.random(n) < 0.5
    rxy[flip], rs[flip] = mirrored(rxy[flip], rs[flip])
    if turn3d:
        rxy = turn(rxy, rs, rng, *turn3d)
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
    "a 3D turn (yaw up to 60°, pitch up to 40°)": {"turn3d": (60.0, 40.0)},
    "a 3D turn (yaw up to 90°, pitch up to 60°)": {"turn3d": (90.0, 60.0)},
}

if __name__ == "__main__":
    table = read_csv(sys.argv[1])
    for name, kw in VARIANTS.items():
        right = lopo(table, **kw)
        print(f"{name}: " + ", ".join(f"{p} {100 * a:.1f}%" for p, a in right.items()), flush=True)
