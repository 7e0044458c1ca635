"""Leave-one-person-out, one network per seed, and what averaging them gains (docs/classification.md, "Three
networks" and "Photo variants").

For each seed and each person, edgeapp's ``train`` (the device recipe with one network, the negatives as ``other``)
on everyone else, then the held-out person's photos answered through the exported model. Prints each person's share
right in the closed set (the best of the five poses) for each seed, then for the seeds' probabilities averaged (what
the recipe's three networks do in one model). With ``--variants CSV``, the same with photo variants joining the
fitting rows of their photos (``train --photo-variants``). Needs TensorFlow:

    edgeapp classifier extract ../shared/data/yoga/yoga_poses_train --out pos.csv
    edgeapp classifier extract ../shared/data/yoga/yoga_poses_train --variants --out variants.csv
    edgeapp classifier negatives ... --out neg.csv          # as in docs/classification.md
    python tools/lopo_seeds.py pos.csv neg.csv --seeds 42 7 1 [--variants variants.csv] [--mirror]

With ``--mirror`` the networks answer each photo twice, as it is and mirrored (left/right joints swapped), and the
two answers' probabilities are averaged: test-time mirroring (training is deterministic: the same networks).

(~1 min per person per seed on 2 cores; ~2 min with variants).
"""

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from edgeapp.classify.augment import mirrored  # noqa: E402
from edgeapp.classify.calibrate import people, split_by_person  # noqa: E402
from edgeapp.classify.classifier import PoseClassifier  # noqa: E402
from edgeapp.classify.contract import encode_table  # noqa: E402
from edgeapp.classify.dataset import read_csv  # noqa: E402
from edgeapp.classify.recipe import DEVICE, with_photo_variants  # noqa: E402
from edgeapp.classify.train import train  # noqa: E402


def held_out_probabilities(table, negatives, variants, config, mirror: bool = False
                           ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """person -> (the model's probabilities for their photos, their true class numbers); with ``mirror``, the
    mean of the probabilities for each photo and for its mirror image."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in people(table):
            rest, mine = split_by_person(table, name)
            model = PoseClassifier.open(train(rest, Path(tmp) / name, config, negatives=negatives,
                                              variants=variants).model_path)
            p = model.predict_table(encode_table(mine.xy, mine.scores, config.order))
            if mirror:
                p = 0.5 * (p + model.predict_table(encode_table(*mirrored(mine.xy, mine.scores), config.order)))
            out[name] = p, mine.class_no
    return out


def line(label: str, runs: list[dict], poses: int) -> str:
    right = {p: int((np.mean([r[p][0] for r in runs], axis=0)[:, :poses].argmax(1) == y).sum())
             for p, (_, y) in runs[0].items()}
    n = {p: len(y) for p, (_, y) in runs[0].items()}
    return f"{label}: " + ", ".join(f"{p} {100 * right[p] / n[p]:.1f}%" for p in right) + \
        f"; all {100 * sum(right.values()) / sum(n.values()):.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pos")
    ap.add_argument("negatives")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 1])
    ap.add_argument("--variants", default=None)
    ap.add_argument("--mirror", action="store_true", help="average each photo's answer with its mirror image's")
    a = ap.parse_args()
    table, negatives = read_csv(Path(a.pos)), read_csv(Path(a.negatives))
    variants = read_csv(Path(a.variants)) if a.variants else None
    kind = "with photo variants" if variants is not None else "without photo variants"
    kind += ", mirrored at test time" if a.mirror else ""
    runs = []
    for seed in a.seeds:
        config = replace(DEVICE, seed=seed, members=1, synthetic=0)  # the recipe as docs' table measured it
        runs.append(held_out_probabilities(table, negatives, variants, with_photo_variants(config)
                                           if variants is not None else config, a.mirror))
        print(line(f"{kind}, seed {seed}", runs[-1:], len(table.labels)), flush=True)
    print(line(f"{kind}, seeds {' '.join(map(str, a.seeds))} averaged", runs, len(table.labels)))


if __name__ == "__main__":
    main()
