"""``edgeapp classifier evaluate``: a classifier's answers on labelled photos and on negatives.

Every row gets the answer the device would give (body guard, model, open-set rule):
a class, ``other`` or ``refused`` (no confident / degenerate pose). Accuracy counts
only the right class; the confusion matrix has the two extra columns. On negatives
(poses that are none of the classes) the right answers are ``other`` and ``refused``,
and the figure is the share named as a class ("false poses").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeapp.classify.classifier import OK, OTHER, PoseClassifier
from edgeapp.classify.dataset import DatasetError, KeypointTable, WriteError
from edgeapp.classify.photo_variants import variant_of
from edgeapp.classify.report import Evaluation, evaluate
from edgeapp.errors import ClassifyError
from edgeapp.pose.keypoint import Pose

REFUSED = "refused"
EXTRA = (OTHER, REFUSED)


@dataclass(frozen=True)
class NegativeResult:
    n: int
    named: dict[str, int]  # class -> rows wrongly named so
    other: int
    refused: int

    @property
    def false_pose_share(self) -> float:
        return sum(self.named.values()) / self.n if self.n else 0.0

    def to_dict(self) -> dict:
        return {"n": self.n, "named_as_a_pose": self.named, "other": self.other, "refused": self.refused,
                "false_pose_share": round(self.false_pose_share, 4)}


def answers(classifier: PoseClassifier, table: KeypointTable) -> np.ndarray:
    """Index into ``classifier.labels + EXTRA`` per row (the table holds pixels: frame size 1x1)."""
    k = len(classifier.labels)
    out = np.empty(len(table), dtype=np.int64)
    for i in range(len(table)):
        c = classifier.classify(Pose(table.xy[i], table.scores[i], (1, 1)))
        out[i] = classifier.labels.index(c.label) if c.status == OK else k + (0 if c.status == OTHER else 1)
    return out


def check_classes(table: KeypointTable, classifier: PoseClassifier, where: str) -> None:
    unknown = [c for c in table.labels if c not in classifier.labels or c == classifier.contract.other_label]
    if unknown:
        raise DatasetError(f"{where}: class folders {unknown} are not among the model's labels "
                           f"{[x for x in classifier.labels if x != classifier.contract.other_label]}")


def evaluate_table(classifier: PoseClassifier, table: KeypointTable) -> Evaluation:
    """Labelled rows against the model's own label order (its "other" output folded into the other column)."""
    return evaluate_with_variants(classifier, table)[0]


def evaluate_with_variants(classifier: PoseClassifier, table: KeypointTable) -> tuple[Evaluation, dict[str, Evaluation]]:
    """:func:`evaluate_table`, and from the same answers the rows of each photo variant apart (``extract
    --variants`` names them ``<photo>#<variant>``): how the answers hold when the same photos come as another
    camera gives them. The dict is empty for a table of photos only."""
    pos_labels = tuple(x for x in classifier.labels if x != classifier.contract.other_label)
    index = {label: i for i, label in enumerate(pos_labels)}
    raw = answers(classifier, table)
    k = len(classifier.labels)
    predicted = np.array([index[classifier.labels[a]] if a < k else len(pos_labels) + (a - k) for a in raw])
    true = np.array([index[table.labels[c]] for c in table.class_no])
    kinds = np.array([variant_of(f) for f in table.files])
    by_kind = {kind: evaluate(true[kinds == kind], predicted[kinds == kind], pos_labels, EXTRA)
               for kind in dict.fromkeys(kinds) if kind}
    return evaluate(true, predicted, pos_labels, EXTRA), by_kind


def evaluate_negatives(classifier: PoseClassifier, table: KeypointTable) -> NegativeResult:
    raw = answers(classifier, table)
    k = len(classifier.labels)
    # an answer "ok" never names the model's "other" output (PoseClassifier.winner): it is the status OTHER
    named = {label: int((raw == i).sum()) for i, label in enumerate(classifier.labels) if (raw == i).any()}
    return NegativeResult(len(table), named, int((raw == k).sum()), int((raw == k + 1).sum()))


def write_report(ev: Evaluation, neg: NegativeResult | None, out_dir: Path, title: str,
                 skipped: list[tuple[str, str]] = (), variants: dict[str, Evaluation] | None = None) -> None:
    """``skipped``: the photos (class/file, reason) that gave no row, so the report says what it leaves out."""
    import json

    from edgeapp.classify.report import plot_confusion

    summary = {"photos": ev.to_dict(), "negatives": neg.to_dict() if neg else None,
               "skipped": [{"file": name, "reason": reason} for name, reason in skipped],
               "variants": {kind: v.to_dict() for kind, v in (variants or {}).items()}}
    md = f"# {title}\n\n" + ev.markdown() + "".join(f"\n{line}\n" for line in variant_lines(variants)) \
        + skipped_markdown(skipped)
    for name, text in (("evaluation.json", json.dumps(summary, indent=2) + "\n"), ("evaluation.md", md)):
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / name).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise WriteError(out_dir / name, exc) from None
    try:
        plot_confusion(ev, out_dir / "confusion_matrix.png", f"{title}: accuracy {ev.accuracy:.3f} (n={ev.n})")
    except ImportError as exc:  # matplotlib comes with the train extra; the runtime profile has none
        raise ClassifyError(f"the report PNG needs matplotlib ({exc}): pip install 'edgeapp[train]'; "
                            f"{out_dir}/evaluation.md and evaluation.json are written") from None
    except OSError as exc:
        raise WriteError(out_dir / "confusion_matrix.png", exc) from None


def skipped_markdown(skipped: list[tuple[str, str]]) -> str:
    if not skipped:
        return ""
    return (f"\nskipped {len(skipped)} photos (not in the figures):\n\n"
            + "".join(f"- {name}: {reason}\n" for name, reason in skipped))


def describe(ev: Evaluation, neg: NegativeResult | None, variants: dict[str, Evaluation] | None = None) -> str:
    lines = [ev.markdown(), f"{shares(ev)} of {ev.n} photos"]
    lines += [f"  {line}" for line in variant_lines(variants)]
    if neg is not None:
        named = ", ".join(f"{k} {v}" for k, v in neg.named.items()) or "none"
        lines.append(f"negatives: {neg.n} poses, named as a pose {neg.false_pose_share:.2%} ({named}), "
                     f"other {neg.other}, refused {neg.refused}")
    return "\n".join(lines)


def shares(ev: Evaluation) -> str:
    return f"right {ev.accuracy:.2%}, other {ev.share(OTHER):.2%}, refused (no confident pose) {ev.share(REFUSED):.2%}"


def variant_lines(variants: dict[str, Evaluation] | None) -> list[str]:
    return [f"variant {kind}: {shares(v)} of {v.n}" for kind, v in (variants or {}).items()]
