"""The recipe of the shipped yoga model: leave-one-person-out, the open-set threshold
chosen on the held-out people, then one model trained on everyone with that threshold.

::

    edgeapp classifier train --csv pos.csv --negatives neg.csv --recipe device --by-person --out DIR

Each fold trains on four people (and all negatives), and answers for the fifth through
the exported ``.tflite`` and edgeapp's runtime, the way the device will. The winning
probabilities of the held-out poses choose ``min_probability`` (calibrate.py); the
per-person figures go into the report next to the final model.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from edgeapp.classify.augment import Augmentation
from edgeapp.classify.body import JOINT_SCORE, BodyGuard
from edgeapp.classify.calibrate import (
    MAX_REFUSED,
    balanced_other_threshold,
    open_set_threshold,
    other_threshold,
    people,
    split_by_person,
)
from edgeapp.classify.classifier import OK, OTHER, PoseClassifier
from edgeapp.classify.contract import encode_table
from edgeapp.classify.dataset import KeypointTable
from edgeapp.classify.synthetic import missing_templates
from edgeapp.classify.train import REPORT_JSON, REPORT_MD, EpochLog, TrainConfig, TrainingError, train
from edgeapp.pose.keypoint import Pose

# The device recipe: masked embedding (a joint under the body guard's score is "not seen"),
# augmentation, a larger batch than the notebook's 16 (7x the rows after augmentation), three
# networks averaged: which seed suits a person nobody trained on is luck, and synthetic poses seen
# from any camera, about as many per class as the yoga set has photos (docs/classification.md).
DEVICE = TrainConfig(mask_score=JOINT_SCORE, augment=Augmentation(copies=4, scale=0.2, rotation_deg=15.0),
                     batch_size=128, epochs=120, patience=15, members=3, synthetic=200)


def for_classes(config: TrainConfig, labels: tuple[str, ...]) -> tuple[TrainConfig, str | None]:
    """The recipe for these classes, and a note when it changed: synthetic poses only when every class has a
    3D template (the five yoga poses); another classifier is trained without them."""
    if config.synthetic and (missing := missing_templates(labels)):
        return replace(config, synthetic=0), f"no 3D template for the classes {missing}: no synthetic poses"
    return config, None


def with_photo_variants(config: TrainConfig) -> TrainConfig:
    """With pixel-level variants (photo_variants.py: 7 more rows per photo, each seen by MoveNet), one
    keypoint-augmented copy per row instead of four: about as many rows in all, so about the same time."""
    if config.augment is None:
        return config
    return replace(config, augment=replace(config.augment, copies=min(config.augment.copies, 1)))


@dataclass(frozen=True)
class PersonResult:
    person: str
    n: int
    right: int
    other: int
    refused: int  # by the body guard

    def to_dict(self) -> dict:
        return {**asdict(self), "accuracy": round(self.right / self.n, 4) if self.n else None}


def guard_refused(table: KeypointTable, guard: BodyGuard | None = None) -> np.ndarray:
    """Rows the body guard refuses before any model runs (pixels: frame size 1x1 is exact for the ratios)."""
    guard = guard or BodyGuard()
    return np.array([guard.refusal(Pose(table.xy[i], table.scores[i], (1, 1))) is not None
                     for i in range(len(table))], dtype=bool)


def leave_one_person_out(table: KeypointTable, negatives: KeypointTable | None, config: TrainConfig,
                         progress: Callable[[str], None] | None = None,
                         held_out_negatives: KeypointTable | None = None,
                         variants: KeypointTable | None = None) -> tuple[dict, list[PersonResult], dict]:
    """Per-person held-out answers; the open-set thresholds chosen on them (``other_threshold`` when there
    are negatives, else ``min_probability``) and how. A fold trains on the variants of its own photos only."""
    if held_out_negatives is not None and negatives is None:
        raise TrainingError("--held-out-negatives balance the 'other' output, which only a model trained with "
                            "--negatives has")
    names = people(table)
    if len(names) < 2 or "" in names:
        raise TrainingError("--by-person needs file names that start with the person (girl1_..., guy2_...); "
                            f"found {list(names)[:5]}")
    probs, truth, person, refused, neg_probs = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="edgeapp-lopo-") as tmp:
        for name in names:
            rest, mine = split_by_person(table, name)
            if progress:
                progress(f"fold {name}: training on {len(rest)} rows, holding out {len(mine)}")
            classifier = PoseClassifier.open(train(rest, Path(tmp) / name, config, negatives=negatives,
                                                     variants=variants).model_path)
            probs.append(classifier.predict_table(encode_table(mine.xy, mine.scores, config.order)))
            truth += [table.labels[c] for c in mine.class_no]
            person += [name] * len(mine)
            refused.append(guard_refused(mine))
            if held_out_negatives is not None:
                neg_probs.append(classifier.predict_table(encode_table(held_out_negatives.xy,
                                                                       held_out_negatives.scores, config.order)))
        p, refused = np.concatenate(probs), np.concatenate(refused)
        p_neg, n_neg = None, 0
        if held_out_negatives is not None:  # the model has an "other" output: negatives were checked above
            neg_kept = ~guard_refused(held_out_negatives)
            p_neg, n_neg = np.concatenate([q[neg_kept] for q in neg_probs]), len(held_out_negatives)
        thresholds, rule = choose_thresholds(p[~refused], classifier.other_index, p_neg, n_neg)
        decider = PoseClassifier(classifier.model, replace(classifier.contract, **thresholds))
        results = person_results(decider, p, truth, np.array(person), refused, names)
    calibration = {"method": f"leave-one-person-out over {', '.join(names)}: {rule}", "max_refused": MAX_REFUSED,
                   "held_out_rows": int(len(p))}
    return thresholds, results, calibration


def choose_thresholds(p: np.ndarray, other: int | None, p_neg: np.ndarray | None,
                      negatives: int = 0) -> tuple[dict, str]:
    """The open-set thresholds for held-out true poses' probabilities ``p`` (those the body guard accepts),
    given the index of the "other" output and the probabilities of ``negatives`` held-out negatives (those
    the guard accepts, once per fold), and the rule in words."""
    if other is not None and p_neg is not None:
        limit = balanced_other_threshold(p[:, other], p_neg[:, other])
        return {"other_threshold": limit, "min_probability": 0.0}, (
            "the threshold on the 'other' output that minimises the sum of the two error rates: held-out "
            "people's true poses answered 'other', and negatives no model was trained on "
            f"({negatives} poses) named as a pose ({(p_neg[:, other] <= limit).mean():.2%} at it)")
    if other is not None:
        return {"other_threshold": other_threshold(p[:, other]), "min_probability": 0.0}, (
            f"the {1 - MAX_REFUSED:.1%} quantile of the 'other' output on held-out true poses the body guard "
            "accepts: 'other' when that output is above it")
    return {"other_threshold": None, "min_probability": open_set_threshold(p.max(axis=1))}, (
        f"the {MAX_REFUSED:.1%} quantile of the winning probability of held-out true poses the body "
        "guard accepts: 'other' under it")


def person_results(classifier: PoseClassifier, probs: np.ndarray, truth: list[str], person: np.ndarray,
                   refused: np.ndarray, names: tuple[str, ...]) -> list[PersonResult]:
    """Each person's held-out rows answered by the device's own rule (:meth:`PoseClassifier.decide` with the
    classifier's contract) on the folds' probabilities; a row the body guard refuses counts as refused only."""
    answers = [classifier.decide(row, 0.0) for row in probs]
    kept = ~refused
    right = kept & np.array([a.status == OK and a.label == t for a, t in zip(answers, truth)], dtype=bool)
    other = kept & np.array([a.status == OTHER for a in answers], dtype=bool)
    results = []
    for name in names:
        m = person == name
        results.append(PersonResult(name, int(m.sum()), int(right[m].sum()), int(other[m].sum()),
                                    int(refused[m].sum())))
    return results


def train_device_model(table: KeypointTable, out_dir: Path, negatives: KeypointTable | None,
                       config: TrainConfig = DEVICE, by_person: bool = True,
                       progress: Callable[[EpochLog], None] | None = None,
                       note: Callable[[str], None] | None = None, test: KeypointTable | None = None,
                       held_out_negatives: KeypointTable | None = None, variants: KeypointTable | None = None):
    """LOPO + calibration (``by_person``), then the final model on everyone with the chosen threshold."""
    if held_out_negatives is not None and not by_person:
        raise TrainingError("--held-out-negatives choose the 'other' threshold in leave-one-person-out: "
                            "they need --by-person")
    results: list[PersonResult] = []
    if by_person:
        thresholds, results, calibration = leave_one_person_out(table, negatives, config, note, held_out_negatives,
                                                                variants)
        config = replace(config, calibration=calibration, **thresholds)
    final = train(table, out_dir, config, test, progress=progress, negatives=negatives, variants=variants)
    if results:
        append_lopo_report(Path(out_dir), config, results)
    return final, results


def append_lopo_report(out_dir: Path, config: TrainConfig, results: list[PersonResult]) -> None:
    summary = json.loads((out_dir / REPORT_JSON).read_text())
    summary["leave_one_person_out"] = {"min_probability": round(config.min_probability, 6),
                                       "other_threshold": config.other_threshold,
                                       "people": [r.to_dict() for r in results]}
    (out_dir / REPORT_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    lines = ["", "## Leave-one-person-out (each person held out, the model trained on the others)", "",
             f"open-set thresholds chosen on these held-out poses: other_threshold = {config.other_threshold}, "
             f"min_probability = {config.min_probability:.4f} ({config.calibration['method']})", "",
             "| person | photos | right | other | refused (no confident pose) | accuracy |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.person} | {r.n} | {r.right} | {r.other} | {r.refused} | {r.right / r.n:.2%} |")
    n = sum(r.n for r in results)
    lines.append(f"| all | {n} | {sum(r.right for r in results)} | {sum(r.other for r in results)} | "
                 f"{sum(r.refused for r in results)} | {sum(r.right for r in results) / n:.2%} |")
    with (out_dir / REPORT_MD).open("a") as f:
        f.write("\n".join(lines) + "\n")
