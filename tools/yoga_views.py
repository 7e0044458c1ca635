"""Leave-one-person-out experiments on viewpoint: does any cheap change to the embedding or the augmentation
make a keypoint classifier trained on four people name the poses of the fifth, seen from another angle?

Closed set (the five poses, no negatives), the device recipe's network and masked embedding (edgeapp's
``train.build_model``: 51 -> 128 -> 64 -> 5, relu6, dropout 0.5; joints under 0.2 zeroed, the 17 visibility flags
appended) and its augmentation (``augment.augment``, 4 copies per row), 60 epochs, batch 128, seed 42. What this
tool adds is only the view variants: rotation range, foreshortening, a 3D turn, an upright embedding,
and edgeapp's synthetic poses (synthetic.py, as the device recipe adds them).
Needs the train extra (TensorFlow):

    edgeapp classifier extract ../shared/data/yoga/yoga_poses_train --out pos.csv
    python tools/yoga_views.py pos.csv [--seeds 42 7] [--only WORDS] [--within]

prints one line per variant and seed (default 42): the share of each held-out person's photos given the right
pose. ``--only`` runs the variants whose name holds WORDS. ``--within`` trains with four fifths of the person's
own photos too (5 folds, every 5th photo): how far these keypoints can tell the poses apart at all.
"""

import os
import sys
from dataclasses import replace

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from edgeapp.classify.augment import augment as project_augment  # noqa: E402
from edgeapp.classify.calibrate import people, person_of  # noqa: E402
from edgeapp.classify.contract import encode_table  # noqa: E402
from edgeapp.classify.dataset import read_csv  # noqa: E402
from edgeapp.classify.recipe import DEVICE  # noqa: E402
from edgeapp.classify.synthetic import synthetic_table  # noqa: E402
from edgeapp.classify.train import build_model  # noqa: E402

HIPS, SHOULDERS, MASK = [11, 12], [5, 6], 0.2


def rotation(t):
    c, s = np.cos(t), np.sin(t)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def upright(xy):
    """Each pose turned about its hip midpoint so that its torso points up (the embedding then sees it upright)."""
    hips = xy[:, HIPS].mean(1, keepdims=True)
    torso = xy[:, SHOULDERS].mean(1) - hips[:, 0]
    return np.einsum("nij,nkj->nki", rotation(-np.arctan2(torso[:, 0], -torso[:, 1])), xy - hips) + hips


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


def augment(xy, scores, y, rng, copies=4, rot=15.0, foreshorten=0.0, turn3d=None, synthetic=0, labels=()):
    """edgeapp's augmentation (the device recipe's, with ``rot`` for its rotation range), then on the copies:
    ``turn3d``, (yaw, pitch) for :func:`turn` (bones seen as in the original rows), and ``foreshorten``, a squash
    by up to that share along a random axis about the hip midpoint (the pose seen from another elevation or
    azimuth, for a roughly planar body). ``synthetic``: that many rows per class from edgeapp's 3D templates
    (the device recipe's, synthetic.py) join the rows first, and are augmented with them."""
    if synthetic:
        extra = synthetic_table(tuple(labels), synthetic, rng)
        xy, scores, y = (np.concatenate([xy, extra.xy]), np.concatenate([scores, extra.scores]),
                         np.concatenate([y, extra.class_no]))
    aug = replace(DEVICE.augment, copies=copies, rotation_deg=rot)
    axy, ascores, ay = project_augment(xy, scores, y, aug, rng)
    n, m = len(xy), len(axy) - len(xy)
    new = axy[n:]
    if turn3d:
        new = turn(new, ascores[n:], rng, *turn3d)  # the copies' own scores: mirrored ones swap sides
    if foreshorten:
        centre = new[:, HIPS].mean(1, keepdims=True)
        phi, squash = rng.uniform(0, np.pi, m), np.zeros((m, 2, 2))
        squash[:, 0, 0], squash[:, 1, 1] = 1.0, rng.uniform(1 - foreshorten, 1, m)
        new = np.einsum("nij,nkj->nki", rotation(phi) @ squash @ rotation(-phi), new - centre) + centre
    axy[n:] = np.trunc(new)
    return axy, ascores, ay


def network(k):
    import keras

    m = build_model(k, DEVICE.dropout, MASK)
    m.compile(keras.optimizers.Adam(DEVICE.learning_rate), "categorical_crossentropy")
    return m


def features(xy, scores, turned=False):
    """The model's input rows, the device's way (edgeapp's encode_table); ``turned``: each pose upright first."""
    return encode_table(upright(xy) if turned else xy, scores, DEVICE.order)


def defined(xy, scores):
    """Rows the embedding is defined for: a torso of some length or a joint seen (else it divides 0 by 0, and one
    such row in a batch turns the network's weights into NaN). The body guard refuses such poses on the device."""
    torso = np.linalg.norm(xy[:, SHOULDERS].mean(1) - xy[:, HIPS].mean(1), axis=1)
    return (torso > 0) | (scores >= MASK).any(1)


def right_answers(table, fit, test, rng, turned=False, **aug):
    """How many of the ``test`` rows a network trained on the ``fit`` rows (boolean masks) names right."""
    k = len(table.labels)
    xy, s, y = augment(table.xy[fit], table.scores[fit], table.class_no[fit], rng, labels=table.labels, **aug)
    model = network(k)
    ok = defined(xy, s)
    model.fit(features(xy[ok], s[ok], turned), np.eye(k)[y[ok]], epochs=60, batch_size=DEVICE.batch_size, verbose=0)
    guess = model.predict(features(table.xy[test], table.scores[test], turned), verbose=0).argmax(1)
    guess[~defined(table.xy[test], table.scores[test])] = -1  # no answer: never right
    return int((guess == table.class_no[test]).sum())


def lopo(table, seed=42, within=False, **aug):
    """Each person's share of right answers, held out whole; ``within``: in 5 folds, each fold trained with the
    other four fifths of the person's own photos (every 5th photo in file order, so each test photo has its
    neighbours in the render sequence in training: an optimistic bound on what these keypoints allow)."""
    import keras

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    person = np.array([person_of(f) for f in table.files])
    order = np.argsort(table.files, kind="stable")
    right = {}
    for p in people(table):
        mine = order[person[order] == p]
        folds = [mine[f::5] for f in range(5)] if within else [mine]
        hits = 0
        for test_rows in folds:
            test = np.zeros(len(person), bool)
            test[test_rows] = True
            hits += right_answers(table, ~test, test, rng, **aug)
        right[p] = hits / len(mine)
    return right


VARIANTS = {
    "the device recipe's augmentation (±15°, scale ±20%)": {},
    "+ any rotation (±180°)": {"rot": 180.0},
    "+ foreshortening up to 60%": {"foreshorten": 0.6},
    "+ any rotation and foreshortening": {"rot": 180.0, "foreshorten": 0.6},
    "upright embedding (torso turned to point up)": {"turned": True},
    "upright embedding + foreshortening": {"turned": True, "foreshorten": 0.6},
    "a 3D turn (yaw up to 60°, pitch up to 40°)": {"turn3d": (60.0, 40.0)},
    "a 3D turn (yaw up to 90°, pitch up to 60°)": {"turn3d": (90.0, 60.0)},
    "+ synthetic poses: 3D templates from any camera, 200 per class": {"synthetic": 200},
    "+ twice as many 3D template poses (400 per class)": {"synthetic": 400},
    "+ four times as many 3D template poses (800 per class)": {"synthetic": 800},
}

if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--only", default="", help="only the variants whose name holds this")
    ap.add_argument("--within", action="store_true",
                    help="each person in 5 folds, 4/5 of their own photos in training (an upper bound)")
    args = ap.parse_args()
    table = read_csv(args.csv)
    for name, kw in VARIANTS.items():
        for seed in args.seeds if args.only in name else ():
            right = lopo(table, seed=seed, within=args.within, **kw)
            print(f"{name}, seed {seed}: " + ", ".join(f"{p} {100 * a:.1f}%" for p, a in right.items()), flush=True)
