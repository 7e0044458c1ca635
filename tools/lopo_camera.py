"""Leave-one-person-out with and without photo variants in training, answered on the held-out person's photos
and on the same photos as another camera gives them (docs/classification.md, "Photo variants").

For each seed and each person: edgeapp's ``train`` (the device recipe, one network, the negatives as ``other``) on
everyone else, once as it is and once with ``--photo-variants``; then the held-out person's photos and each of
their seven variants answered through the exported model, and the unseen tud_campus negatives. The seeds'
probabilities are averaged (what the recipe's three networks do). The two trainings put their ``other`` output on
different scales, so each is compared at the threshold that names the same share of the unseen negatives as a
pose (2% and 3%): right answers there, per variant and per person. Needs TensorFlow:

    python tools/lopo_camera.py pos.csv neg.csv variants.csv neg_tud.csv --seeds 42 7 1    # ~35 min on 2 cores
"""

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from edgeapp.classify.calibrate import people, split_by_person  # noqa: E402
from edgeapp.classify.classifier import PoseClassifier  # noqa: E402
from edgeapp.classify.contract import encode_table  # noqa: E402
from edgeapp.classify.dataset import read_csv, subset  # noqa: E402
from edgeapp.classify.photo_variants import photo_of, variant_of  # noqa: E402
from edgeapp.classify.recipe import DEVICE, with_photo_variants  # noqa: E402
from edgeapp.classify.train import train  # noqa: E402


def answers(table, negatives, variants, unseen, config, with_variants: bool) -> dict:
    """person -> {kind: (probabilities, true classes)} for the photos ("photo") and each variant, and "unseen":
    the probabilities for the unseen negatives."""
    out = {}
    kinds = np.array([variant_of(f) for f in variants.files])
    photos = np.array([photo_of(f) for f in variants.files])
    with tempfile.TemporaryDirectory() as tmp:
        for name in people(table):
            rest, mine = split_by_person(table, name)
            model = PoseClassifier.open(train(rest, Path(tmp) / name, config, negatives=negatives,
                                              variants=variants if with_variants else None).model_path)
            ask = lambda t: model.predict_table(encode_table(t.xy, t.scores, config.order))  # noqa: E731
            out[name] = {"photo": (ask(mine), mine.class_no), "unseen": ask(unseen)}
            for kind in dict.fromkeys(kinds):
                v = subset(variants, np.flatnonzero((kinds == kind) & np.isin(photos, mine.files)))
                out[name][kind] = (ask(v), v.class_no)
    return out


def report(label: str, runs: list[dict], poses: int, other: int, named: float) -> None:
    mean = lambda person, kind: np.mean([r[person][kind][0] for r in runs], axis=0)  # noqa: E731
    persons = list(runs[0])
    unseen = np.concatenate([np.mean([r[p]["unseen"] for r in runs], axis=0)[:, other] for p in persons])
    threshold = float(np.quantile(unseen, named))  # a negative is named as a pose when its 'other' is under it
    right = lambda p, k: (mean(p, k)[:, :poses].argmax(1) == runs[0][p][k][1]) & (mean(p, k)[:, other] <= threshold)  # noqa: E731,E501
    kinds = [k for k in runs[0][persons[0]] if k != "unseen"]
    cells = []
    for k in kinds:
        hits = [right(p, k) for p in persons]
        cells.append(f"{k} {100 * sum(h.sum() for h in hits) / sum(len(h) for h in hits):.1f}%")
    per = ", ".join(f"{p} {100 * right(p, 'photo').mean():.1f}%" for p in persons)
    print(f"{label}, unseen negatives named {100 * named:.0f}% (other <= {threshold:.3f}): {'; '.join(cells)}\n"
          f"    photos by person: {per}")


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("pos", "negatives", "variants", "unseen"):
        ap.add_argument(name)
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 1])
    a = ap.parse_args()
    table, negatives = read_csv(Path(a.pos)), read_csv(Path(a.negatives))
    variants, unseen = read_csv(Path(a.variants)), read_csv(Path(a.unseen))
    poses, other = len(table.labels), len(table.labels)  # the negatives' class comes after the poses
    for with_variants in (False, True):
        runs = []
        for seed in a.seeds:
            config = replace(DEVICE, seed=seed, members=1, synthetic=0)  # the recipe as docs' table measured it
            runs.append(answers(table, negatives, variants, unseen,
                                with_photo_variants(config) if with_variants else config, with_variants))
        for named in (0.02, 0.03):
            report("with photo variants" if with_variants else "without", runs, poses, other, named)


if __name__ == "__main__":
    main()
