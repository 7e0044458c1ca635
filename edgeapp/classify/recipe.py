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
from edgeapp.classify.calibrate import MAX_REFUSED, open_set_threshold, people, split_by_person
from edgeapp.classify.contract import encode_table
from edgeapp.classify.dataset import KeypointTable
from edgeapp.classify.train import REPORT_JSON, REPORT_MD, EpochLog, TrainConfig, TrainingError, run_exported, train
from edgeapp.pose.keypoint import Pose

# The device recipe: masked embedding (a joint under the body guard's score is "not seen"),
# augmentation, and a larger batch than the notebook's 16 (10x the rows after augmentation).
DEVICE = TrainConfig(mask_score=JOINT_SCORE, augment=Augmentation(), batch_size=64, epochs=150, patience=15)


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


def winning(probs: np.ndarray, other_index: int | None) -> np.ndarray:
    """The top probability of each row; 0 where "other" itself wins (other whatever the threshold)."""
    best = probs.argmax(axis=1)
    w = probs.max(axis=1)
    return np.where(best == other_index, 0.0, w) if other_index is not None else w


def leave_one_person_out(table: KeypointTable, negatives: KeypointTable | None, config: TrainConfig,
                         progress: Callable[[str], None] | None = None) -> tuple[float, list[PersonResult], dict]:
    names = people(table)
    if len(names) < 2 or "" in names:
        raise TrainingError("--by-person needs file names that start with the person (girl1_..., guy2_...); "
                            f"found {list(names)[:5]}")
    held_w, held_ok, held_person, held_refused = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="edgeapp-lopo-") as tmp:
        for person in names:
            rest, mine = split_by_person(table, person)
            if progress:
                progress(f"fold {person}: training on {len(rest)} rows, holding out {len(mine)}")
            r = train(rest, Path(tmp) / person, config, negatives=negatives)
            probs = run_exported(r.model_path, encode_table(mine.xy, mine.scores, config.order))
            other = r.labels.index("other") if "other" in r.labels else None
            held_w.append(winning(probs, other))
            held_ok.append(probs.argmax(axis=1) == mine.class_no)
            held_person += [person] * len(mine)
            held_refused.append(guard_refused(mine))
    w, ok, refused = np.concatenate(held_w), np.concatenate(held_ok), np.concatenate(held_refused)
    person = np.array(held_person)
    threshold = open_set_threshold(w[~refused])
    results = []
    for name in names:
        m = person == name
        is_other = ~refused[m] & (w[m] < threshold)
        right = ok[m] & ~refused[m] & ~is_other
        results.append(PersonResult(name, int(m.sum()), int(right.sum()), int(is_other.sum()), int(refused[m].sum())))
    calibration = {
        "method": f"leave-one-person-out over {', '.join(names)}: the {MAX_REFUSED:.1%} quantile of the winning "
                  "probability of held-out true poses the body guard accepts ('other' winning counts as 0)",
        "max_refused": MAX_REFUSED,
        "held_out_rows": int(len(w)),
    }
    return threshold, results, calibration


def train_device_model(table: KeypointTable, out_dir: Path, negatives: KeypointTable | None,
                       config: TrainConfig = DEVICE, by_person: bool = True,
                       progress: Callable[[EpochLog], None] | None = None,
                       note: Callable[[str], None] | None = None, test: KeypointTable | None = None):
    """LOPO + calibration (``by_person``), then the final model on everyone with the chosen threshold."""
    results: list[PersonResult] = []
    if by_person:
        threshold, results, calibration = leave_one_person_out(table, negatives, config, note)
        config = replace(config, min_probability=threshold, calibration=calibration)
    final = train(table, out_dir, config, test, progress=progress, negatives=negatives)
    if results:
        append_lopo_report(Path(out_dir), config, results)
    return final, results


def append_lopo_report(out_dir: Path, config: TrainConfig, results: list[PersonResult]) -> None:
    summary = json.loads((out_dir / REPORT_JSON).read_text())
    summary["leave_one_person_out"] = {"min_probability": round(config.min_probability, 6),
                                       "people": [r.to_dict() for r in results]}
    (out_dir / REPORT_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    lines = ["", "## Leave-one-person-out (each person held out, the model trained on the others)", "",
             f"open-set threshold chosen on these held-out poses: min_probability = {config.min_probability:.4f} "
             f"({config.calibration['method']})", "",
             "| person | photos | right | other | refused (no confident pose) | accuracy |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.person} | {r.n} | {r.right} | {r.other} | {r.refused} | {r.right / r.n:.2%} |")
    n = sum(r.n for r in results)
    lines.append(f"| all | {n} | {sum(r.right for r in results)} | {sum(r.other for r in results)} | "
                 f"{sum(r.refused for r in results)} | {sum(r.right for r in results) / n:.2%} |")
    with (out_dir / REPORT_MD).open("a") as f:
        f.write("\n".join(lines) + "\n")
