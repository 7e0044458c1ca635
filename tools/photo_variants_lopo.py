"""Leave-one-person-out with and without photo variants (docs/classification.md, "Photo variants").

For each person, edgeapp's ``train`` (the device recipe, the negatives as ``other``) on everyone else, then the
held-out person's photos answered through the exported model: the closed-set answer (the best of the five poses).
``without``: the recipe as shipped (4 keypoint copies). ``with``: every variant of the other people's photos added
to the training table before it is split (so, unlike ``train --photo-variants``, variants of validation photos
can be fitted: this is the scratch run the docs' two-seed table comes from), 1 keypoint copy. Needs TensorFlow:

    edgeapp classifier extract ../shared/data/yoga/yoga_poses_train --out pos.csv
    edgeapp classifier extract ../shared/data/yoga/yoga_poses_train --variants --out variants.csv
    edgeapp classifier negatives ... --out neg.csv          # as in docs/classification.md
    python tools/photo_variants_lopo.py pos.csv variants.csv neg.csv --seed 42

prints, for each of the two, each person's share right and the share over all photos (~25 min on 2 cores).
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
from edgeapp.classify.dataset import concat, read_csv  # noqa: E402
from edgeapp.classify.recipe import DEVICE, with_photo_variants  # noqa: E402
from edgeapp.classify.train import train, variants_of  # noqa: E402


def closed_set_right(table, variants, negatives, config, tmp: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for name in people(table):
        rest, mine = split_by_person(table, name)
        fit = rest if variants is None else concat([rest, variants_of(rest, variants)])
        model = train(fit, tmp / name, config, negatives=negatives).model_path
        probs = PoseClassifier.open(model).predict_table(encode_table(mine.xy, mine.scores, config.order))
        out[name] = (int((probs[:, :len(table.labels)].argmax(axis=1) == mine.class_no).sum()), len(mine))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pos")
    ap.add_argument("variants")
    ap.add_argument("negatives")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    table, variants, negatives = read_csv(Path(a.pos)), read_csv(Path(a.variants)), read_csv(Path(a.negatives))
    base = replace(DEVICE, seed=a.seed)
    for label, v, config in (("without", None, base), ("with", variants, with_photo_variants(base))):
        with tempfile.TemporaryDirectory() as tmp:
            right = closed_set_right(table, v, negatives, config, Path(tmp))
        total = sum(r for r, _ in right.values()) / sum(n for _, n in right.values())
        print(f"{label} variants, seed {a.seed}: " + ", ".join(f"{p} {100 * r / n:.1f}%" for p, (r, n) in right.items())
              + f"; all {100 * total:.1f}%", flush=True)


if __name__ == "__main__":
    main()
