"""Evaluation of a classifier on a labelled table: accuracy, per-class precision/recall,
the confusion matrix as a Markdown table and as a PNG. numpy only, except the PNG
(matplotlib, part of the ``train`` extra, imported when drawing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class Evaluation:
    labels: tuple[str, ...]
    confusion: np.ndarray  # [true, predicted] counts
    extra: tuple[str, ...] = ()  # answers after the labels' columns that are no class ("other", "refused")

    @property
    def columns(self) -> tuple[str, ...]:
        return self.labels + self.extra

    def share(self, answer: str) -> float:
        """The share of rows answered ``answer`` (one of ``extra``)."""
        j = self.columns.index(answer)
        return float(self.confusion[:, j].sum() / self.n) if self.n else 0.0

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.n) if self.n else 0.0

    @property
    def precision(self) -> np.ndarray:
        predicted = self.confusion.sum(axis=0)[: len(self.labels)]
        return np.divide(np.diag(self.confusion), predicted, out=np.zeros(len(self.labels)), where=predicted > 0)

    @property
    def recall(self) -> np.ndarray:
        actual = self.confusion.sum(axis=1)
        return np.divide(np.diag(self.confusion), actual, out=np.zeros(len(self.labels)), where=actual > 0)

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "per_class": {
                label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "support": int(s)}
                for label, p, r, s in zip(self.labels, self.precision, self.recall, self.confusion.sum(axis=1))
            },
            "confusion": {"rows": "true", "columns": "predicted", "labels": list(self.labels),
                          "column_labels": list(self.columns), "matrix": self.confusion.tolist()},
            **{f"{answer}_share": round(self.share(answer), 4) for answer in self.extra},
        }

    def markdown(self) -> str:
        lines = [f"accuracy: {self.accuracy:.4f} ({int(np.trace(self.confusion))}/{self.n})", "",
                 "| class | precision | recall | support |", "|---|---|---|---|"]
        for label, p, r, s in zip(self.labels, self.precision, self.recall, self.confusion.sum(axis=1)):
            lines.append(f"| {label} | {p:.4f} | {r:.4f} | {int(s)} |")
        lines += ["", "confusion matrix (rows: true class, columns: predicted)", "",
                  "| true \\ predicted | " + " | ".join(self.columns) + " |",
                  "|---|" + "---|" * len(self.columns)]
        for label, row in zip(self.labels, self.confusion):
            lines.append(f"| {label} | " + " | ".join(str(int(v)) for v in row) + " |")
        return "\n".join(lines) + "\n"


def evaluate(true: np.ndarray, predicted: np.ndarray, labels: tuple[str, ...], extra: tuple[str, ...] = ()) -> Evaluation:
    """``predicted`` indexes ``labels + extra``."""
    k, m = len(labels), len(labels) + len(extra)
    confusion = np.bincount(np.asarray(true) * m + np.asarray(predicted), minlength=k * m).reshape(k, m)
    return Evaluation(tuple(labels), confusion, tuple(extra))


def plot_confusion(ev: Evaluation, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on a Pi or in CI
    import matplotlib.pyplot as plt

    k, m = len(ev.labels), len(ev.columns)
    fig, ax = plt.subplots(figsize=(1.2 * m + 2, 1.2 * k + 1.5), dpi=100)
    try:
        ax.imshow(ev.confusion, cmap="Blues")
        ax.set_xticks(range(m), ev.columns, rotation=45, ha="right")
        ax.set_yticks(range(k), ev.labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title or f"accuracy {ev.accuracy:.3f} (n={ev.n})")
        top = ev.confusion.max() or 1
        for i in range(k):
            for j in range(m):
                v = int(ev.confusion[i, j])
                ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
