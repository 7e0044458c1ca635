"""Training a pose classifier the tutorial's way, and exporting it with its contract.

TensorFlow is imported here and only here, inside the functions (the ``train`` extra);
the runtime never needs it.

The network is the pose-classification notebook's: 51 inputs -> in-graph pose
normalisation -> 34-d embedding -> Dense(128, relu6) -> Dropout -> Dense(64, relu6)
-> Dropout -> Dense(classes, softmax), adam + categorical cross-entropy, batch 16,
early stopping (patience 20) keeping the best weights, at most 200 epochs, 15% of each
class held back for validation.

``TrainConfig(members=N)`` trains N such networks from consecutive seeds (each its own validation split,
weights and augmentation) and exports one model that averages their probabilities (the device recipe's three; docs/classification.md says why).

Early stopping watches the validation *loss* by default, not the notebook's validation
accuracy: on ~100 validation rows the accuracy reaches its ceiling within ~10 epochs, and
the first epoch to reach it is the one kept, an under-trained model (here it put both
warrior photos of yoga/images/train in other classes while scoring 99.8% on the test CSV).
``TrainConfig(monitor="val_accuracy")`` restores the notebook's choice.

Normalisation, as the notebook's ``normalize_pose_landmarks`` at batch size 1 (which
is how the exported model always runs): the scores are dropped, the 17 points are
centred on the hip midpoint and divided by
``max(2.5 * |mid_shoulders - mid_hips|, max(|x_c|_2, |y_c|_2))`` where ``x_c``/``y_c`` are
the 17 centred x (resp. y) values; the second term is the notebook's quirk (a norm over
the keypoint axis, not the farthest keypoint) and is kept because the stock model was
trained with it. One deliberate difference: the notebook computes the torso size over
the whole batch and the spread from its first sample only, so during training every
sample of a batch of 16 is scaled by one batch-wide number (about 4x smaller than at
inference). Here each sample gets its own size; at batch size 1 the two are identical,
so training sees exactly what inference sees. The formula is symmetric in the two
coordinates, so it holds for ``yx`` and ``xy`` inputs alike.

Inputs are built by :func:`edgeapp.classify.contract.encode_table` in the contract's
order (default ``yx`` pixels, the stock model's), and the same contract is written as
the sidecar, so the runtime feeds the exported model exactly what it was trained on.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgeapp.classify.augment import Augmentation, augment
from edgeapp.classify.contract import FEATURES, OTHER, ClassifierContract, encode_table, write_contract, write_labels
from edgeapp.classify.dataset import KeypointTable, concat, relabel, subset
from edgeapp.classify.photo_variants import photo_of
from edgeapp.classify.report import Evaluation, evaluate, plot_confusion
from edgeapp.classify.synthetic import missing_templates, synthetic_table
from edgeapp.errors import ClassifyError

log = logging.getLogger(__name__)

MODEL_FILE = "classifier.tflite"
LABELS_FILE = "labels.txt"
CONTRACT_FILE = "classifier.contract.json"  # the sidecar name contract.sidecar_path() looks for
REPORT_MD = "report.md"
REPORT_JSON = "report.json"
CONFUSION_PNG = "confusion_matrix.png"

# MoveNet/COCO indices used by the normalisation.
_L_SHOULDER, _R_SHOULDER, _L_HIP, _R_HIP = 5, 6, 11, 12
TORSO_SIZE_MULTIPLIER = 2.5


class TrainingError(ClassifyError):
    """Training cannot start or finish: too few classes, no TensorFlow, a bad option."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200  # cap; early stopping usually ends sooner
    batch_size: int = 16
    patience: int = 20
    validation_split: float = 0.15
    seed: int = 42
    dropout: float = 0.5
    learning_rate: float = 0.001
    order: str = "yx"  # the input order of the exported model (see contract.py)
    quantize: bool = True  # the notebook's Optimize.DEFAULT (dynamic-range weights)
    monitor: str = "val_loss"  # early stopping on "val_loss" or "val_accuracy" (the notebook's; see module doc)
    # The device recipe (None/0: the notebook's network and data exactly):
    mask_score: float | None = None  # joints under this score are masked out of the embedding (see build_model)
    augment: Augmentation | None = None  # variants of each training row (augment.py)
    members: int = 1  # networks from seeds seed, seed+1, ... (split, weights, augmentation); the export averages them
    synthetic: int = 0  # rows per pose class from 3D templates seen by random cameras (synthetic.py), fitting only
    min_probability: float = 0.0  # the open-set thresholds written to the contract (chosen by recipe.py)
    other_threshold: float | None = None
    calibration: dict | None = None  # how it was chosen, for the sidecar

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 0 or self.members < 1 or self.synthetic < 0:
            raise TrainingError("epochs, batch_size and members must be >= 1, patience and synthetic >= 0")
        if not 0.0 <= self.validation_split < 1.0:
            raise TrainingError(f"validation_split must be within [0, 1), got {self.validation_split}")
        ClassifierContract(order=self.order)  # validates the order
        if self.monitor not in ("val_loss", "val_accuracy"):
            raise TrainingError(f"monitor must be val_loss or val_accuracy, got {self.monitor!r}")
        if self.mask_score is not None and not 0.0 <= self.mask_score <= 1.0:
            raise TrainingError(f"mask_score must be within 0..1, got {self.mask_score!r}")
        if not 0.0 <= self.min_probability <= 1.0:
            raise TrainingError(f"min_probability must be within 0..1, got {self.min_probability!r}")


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float

    def line(self) -> str:
        s = f"epoch {self.epoch:>3}/{self.epochs}  loss {self.loss:.4f}  accuracy {self.accuracy:.4f}"
        if self.val_loss is not None:
            s += f"  val_loss {self.val_loss:.4f}  val_accuracy {self.val_accuracy:.4f}"
        return s + f"  ({self.seconds:.2f} s)"


@dataclass
class TrainResult:
    out_dir: Path
    model_path: Path
    labels: tuple[str, ...]
    contract: ClassifierContract
    epochs_run: int
    best_epoch: int
    evaluated_on: str
    keras: Evaluation
    tflite: Evaluation
    agreement: float  # share of rows where Keras and the exported model give the same top label
    max_prob_diff: float
    variant_rows: int = 0  # photo variants that joined the fitting rows (their photos' own rows did)
    synthetic_rows: int = 0  # rows from the 3D templates that joined each network's fitting rows
    members: tuple[tuple[int, int], ...] = ()  # (epochs run, best epoch) of each network averaged
    history: list[EpochLog] = field(default_factory=list)
    keras_model: object = None  # the trained Keras model (tests compare it with the export)


def split_validation(class_no: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: ``share`` of each class (rounded down) for validation, the rest for training."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(class_no):
        idx = np.flatnonzero(class_no == c)
        rng.shuffle(idx)
        val.extend(idx[: int(len(idx) * share)])
    val_mask = np.zeros(len(class_no), dtype=bool)
    val_mask[np.asarray(val, dtype=np.int64)] = True
    return np.flatnonzero(~val_mask), np.flatnonzero(val_mask)


def build_model(n_classes: int, dropout: float = 0.5, mask_score: float | None = None):
    """The notebook's network with the normalisation inside the graph.

    With ``mask_score``, keypoint confidence enters the model: a joint scoring under it
    is zeroed in the embedding (and left out of the spread), and the 17 visibility flags
    are appended, so the network learns poses with joints missing (trained with joint
    dropout) instead of reading MoveNet's guess for an occluded joint as a position.
    """
    import keras
    import tensorflow as tf

    class PoseEmbedding(keras.layers.Layer):
        """[N, 51] -> [N, 34]: the notebook's ``landmarks_to_embedding``, per sample (see module doc);
        [N, 51] with the masked embedding and the visibility flags."""

        def call(self, x):
            kp = tf.reshape(x, (-1, 17, 3))
            lm = kp[:, :, :2]
            hips = 0.5 * lm[:, _L_HIP] + 0.5 * lm[:, _R_HIP]
            shoulders = 0.5 * lm[:, _L_SHOULDER] + 0.5 * lm[:, _R_SHOULDER]
            centred = lm - hips[:, None, :]
            torso = tf.norm(shoulders - hips, axis=-1)
            if mask_score is not None:
                seen = tf.cast(kp[:, :, 2] >= mask_score, tf.float32)
                centred = centred * seen[:, :, None]
            spread = tf.reduce_max(tf.norm(centred, axis=1), axis=-1)
            # floored: a row with no torso and no joint seen (nobody there) embeds as zeros, not 0/0, whose NaN
            # would turn every weight into NaN in the first batch that holds it
            size = tf.maximum(tf.maximum(TORSO_SIZE_MULTIPLIER * torso, spread), 1e-6)
            embedding = tf.reshape(centred / size[:, None, None], (-1, 34))
            if mask_score is None:
                return embedding
            return tf.concat([embedding, seen], axis=-1)

    inputs = keras.Input(shape=(FEATURES,), name="landmarks_and_scores")
    x = PoseEmbedding(name="pose_embedding")(inputs)
    x = keras.layers.Dense(128, activation=tf.nn.relu6)(x)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(64, activation=tf.nn.relu6)(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def export_tflite(model, path: Path, quantize: bool = True) -> None:
    """A ``[1, 51]`` float32 -> ``[1, classes]`` TFLite model (batch dimension dynamic, 1 by default)."""
    import contextlib
    import io

    import tensorflow as tf

    # from_keras_model, not from_concrete_functions: with Keras 3 the latter keeps the weights
    # as uninitialised resource variables and the exported model outputs NaN.
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):  # Keras prints its temporary SavedModel's endpoints
        flatbuffer = converter.convert()
    log.debug("%s", chatter.getvalue())
    path.write_bytes(flatbuffer)


def train(table: KeypointTable, out_dir: Path, config: TrainConfig | None = None,
          test: KeypointTable | None = None, progress: Callable[[EpochLog], None] | None = None,
          negatives: KeypointTable | None = None, variants: KeypointTable | None = None) -> TrainResult:
    """Train on ``table`` (plus ``negatives`` as the class ``other``), export to ``out_dir``,
    evaluate on ``test`` (else the validation split). ``variants`` (photo_variants.py) join the
    fitting rows of the photos they were made from; those of other photos are left out."""
    config = config or TrainConfig()
    check_trainable(table)
    if config.synthetic and (missing := missing_templates(table.labels)):
        raise TrainingError(f"synthetic poses need a 3D template for each class; none for {missing}")
    if negatives is not None:
        table = with_negatives(table, negatives)
    if variants is not None:
        variants = relabel(variants, table.labels)
    try:
        import keras  # noqa: F401  (checked here, used by the helpers below)
        import tensorflow as tf  # noqa: F401  (imported for its side effects on keras' backend)
    except ImportError as exc:
        raise TrainingError(
            f"training needs TensorFlow, which is not installed ({exc}); install the extra: pip install 'edgeapp[train]'"
        ) from exc
    labels = table.labels
    k = len(labels)
    if test is not None and negatives is not None and test.labels + (OTHER,) == labels:
        test = relabel(test, labels)
    if test is not None and test.labels != labels:
        raise TrainingError(f"test classes {list(test.labels)} differ from training classes {list(labels)}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = encode_table(table.xy, table.scores, config.order)
    y = np.eye(k, dtype=np.float32)[table.class_no]
    history: list[EpochLog] = []
    members, runs, joined, synthetic_rows = [], [], 0, 0
    # Each network has its own seed for its split as well as its weights and augmentation: networks that
    # differ only in their draws on one split answered a held-out person alike (docs/classification.md).
    for seed in range(config.seed, config.seed + config.members):
        fit_idx, val_idx = split_validation(table.class_no, config.validation_split, seed)
        fit = subset(table, fit_idx)
        if variants is not None:  # only the fitting photos': a validation or held-out photo's would leak it in
            mine = variants_of(fit, variants)
            fit, joined = concat([fit, mine]), joined or len(mine)
        if config.synthetic:  # drawn afresh for each network, from its own seed
            extra = synthetic_table(table.labels, config.synthetic, np.random.default_rng([seed, 1]))
            fit, synthetic_rows = concat([fit, extra]), len(extra)
        validation = (x[val_idx], y[val_idx]) if len(val_idx) else None
        member, epochs, best_epoch = _fit_member(fit, validation, k, config, seed, progress)
        members.append(member)
        history.extend(epochs)
        runs.append((len(epochs), best_epoch))
    model = members[0] if len(members) == 1 else average(members)

    contract = ClassifierContract(order=config.order, units="pixels", labels=labels,
                                  other_label=OTHER if OTHER in labels else None,
                                  min_probability=config.min_probability, calibration=config.calibration,
                                  other_threshold=config.other_threshold if OTHER in labels else None)
    model_path = out_dir / MODEL_FILE
    export_tflite(model, model_path, config.quantize)
    write_labels(out_dir / LABELS_FILE, labels)
    write_contract(out_dir / CONTRACT_FILE, contract,
                   note=f"51 float32 = 17 MoveNet keypoints x ({config.order[0]}, {config.order[1]}, score) in "
                        "frame pixels; written by edgeapp classifier train")

    first_val = split_validation(table.class_no, config.validation_split, config.seed)[1]
    if test is not None:
        eval_x, eval_y, evaluated_on = encode_table(test.xy, test.scores, config.order), test.class_no, "test"
    elif len(first_val):  # with more networks, the others fitted some of these rows: a fit more than a test
        eval_x, eval_y = x[first_val], table.class_no[first_val]
        evaluated_on = "validation" if config.members == 1 else "first network's validation"
    else:  # too few rows to hold any back: say so rather than report an accuracy of nothing
        eval_x, eval_y, evaluated_on = x, table.class_no, "training (no rows held back)"
    keras_probs = model.predict(eval_x, batch_size=256, verbose=0) if len(eval_x) else np.zeros((0, k))
    tflite_probs = run_exported(model_path, eval_x)
    keras_eval = evaluate(eval_y, keras_probs.argmax(axis=1), labels)
    tflite_eval = evaluate(eval_y, tflite_probs.argmax(axis=1), labels)
    agree = float((keras_probs.argmax(1) == tflite_probs.argmax(1)).mean()) if len(eval_x) else 1.0
    diff = float(np.abs(keras_probs - tflite_probs).max()) if len(eval_x) else 0.0

    result = TrainResult(out_dir, model_path, labels, contract, len(history), runs[0][1], evaluated_on,
                         keras_eval, tflite_eval, agree, diff, joined, synthetic_rows, tuple(runs), history, model)
    write_report(result, config, table, test)
    return result


def _fit_member(fit: KeypointTable, validation, k: int, config: TrainConfig, seed: int,
                progress: Callable[[EpochLog], None] | None):
    """One network fitted on the ``fit`` rows (augmented with ``seed``), early-stopped on ``validation``:
    (the Keras model with its best weights, its epochs, the best epoch)."""
    import keras

    # Seeds python, numpy and TF in one go. Keras only offers this process-wide; training
    # runs in its own CLI process, so nothing else depends on the seeded generators.
    keras.utils.set_random_seed(seed)
    fit_xy, fit_scores, fit_no = fit.xy, fit.scores, fit.class_no
    if config.augment is not None:  # only the fitting rows: validation stays what the device sees
        fit_xy, fit_scores, fit_no = augment(fit_xy, fit_scores, fit_no, config.augment, np.random.default_rng(seed))
    fit_x, fit_y = encode_table(fit_xy, fit_scores, config.order), np.eye(k, dtype=np.float32)[fit_no]
    # Without a validation split (a tiny table) the training metric is all there is.
    monitor = config.monitor if validation is not None else config.monitor.removeprefix("val_")
    mode = "min" if monitor.endswith("loss") else "max"

    model = build_model(k, config.dropout, config.mask_score)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history: list[EpochLog] = []

    class EpochLine(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            entry = EpochLog(epoch + 1, config.epochs, float(logs["loss"]), float(logs["accuracy"]),
                             float(logs["val_loss"]) if "val_loss" in logs else None,
                             float(logs["val_accuracy"]) if "val_accuracy" in logs else None,
                             time.perf_counter() - self._t0)
            history.append(entry)
            if progress:
                progress(entry)

    stop = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=config.patience,
                                         restore_best_weights=True)
    model.fit(fit_x, fit_y, epochs=config.epochs, batch_size=config.batch_size, shuffle=True,
              validation_data=validation, callbacks=[stop, EpochLine()], verbose=0)
    # Restore the best weights even when the epoch cap, not the patience, ended training.
    if stop.best_weights is not None:
        model.set_weights(stop.best_weights)
    scores = [getattr(h, monitor) for h in history]
    best_epoch = int(np.argmin(scores) if mode == "min" else np.argmax(scores)) + 1 if scores else 0
    return model, history, best_epoch


def average(members: list):
    """One model whose output is the mean of the members' probabilities. The embedding layer has no weights
    and is the same in every member, so it is computed once; each member keeps its own dense layers."""
    import keras

    first = members[0]
    inputs = keras.Input(shape=(FEATURES,), name="landmarks_and_scores")
    embedding = first.get_layer("pose_embedding")(inputs)
    heads = []
    for member in members:
        h = embedding
        for layer in member.layers[member.layers.index(member.get_layer("pose_embedding")) + 1:]:
            h = layer(h)
        heads.append(h)
    return keras.Model(inputs, keras.layers.Average(name="members_mean")(heads))


def check_trainable(table: KeypointTable) -> None:
    """At least two classes, each with rows: the message names what is missing."""
    if len(table.labels) < 2:
        raise TrainingError(f"training needs at least 2 classes, the data has only {list(table.labels)}: "
                            "put one sub-folder (or class_name) per pose")
    counts = np.bincount(table.class_no, minlength=len(table.labels))
    if counts.min() == 0:
        raise TrainingError(f"class {table.labels[int(counts.argmin())]!r} has no rows")
    if OTHER in table.labels:
        raise TrainingError(f"{OTHER!r} is reserved for the negatives (--negatives), not a pose class")


def variants_of(table: KeypointTable, variants: KeypointTable) -> KeypointTable:
    """The rows of ``variants`` made from photos of ``table`` (photo_variants.photo_of)."""
    photos = set(table.files)
    return subset(variants, np.array([i for i, name in enumerate(variants.files) if photo_of(name) in photos],
                                     dtype=np.int64))


def with_negatives(table: KeypointTable, negatives: KeypointTable) -> KeypointTable:
    """The pose rows plus the negatives as the last class, ``other``."""
    if negatives.labels != (OTHER,):
        raise TrainingError(f"negatives must all be of the class {OTHER!r}, got {list(negatives.labels)}")
    labels = table.labels + (OTHER,)
    return concat([relabel(table, labels), relabel(negatives, labels)])


def run_exported(model_path: Path, features: np.ndarray) -> np.ndarray:
    """The exported model's probabilities through edgeapp's own runtime (what ships), no gate."""
    from edgeapp.classify.classifier import PoseClassifier

    classifier = PoseClassifier.open(model_path)
    return classifier.predict_table(features)


def write_report(r: TrainResult, config: TrainConfig, table: KeypointTable, test: KeypointTable | None) -> None:
    summary = {
        "model": r.model_path.name,
        "contract": r.contract.to_dict(),
        "train_rows": len(table),
        "train_counts": table.counts(),
        "photo_variant_rows": r.variant_rows,
        "synthetic_rows": r.synthetic_rows,
        "test_rows": len(test) if test is not None else None,
        "evaluated_on": r.evaluated_on,
        "epochs_run": r.epochs_run,
        "best_epoch": r.best_epoch,
        "members": [{"seed": config.seed + i, "epochs_run": run, "best_epoch": best}
                    for i, (run, best) in enumerate(r.members)],
        "config": asdict(config),
        "tflite": r.tflite.to_dict(),
        "keras": {"accuracy": round(r.keras.accuracy, 4)},
        "keras_tflite_top1_agreement": round(r.agreement, 4),
        "keras_tflite_max_prob_diff": round(r.max_prob_diff, 5),
    }
    (r.out_dir / REPORT_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    md = [
        "# Pose classifier training report",
        "",
        f"- model: `{r.model_path.name}` ({r.model_path.stat().st_size} bytes), labels `{LABELS_FILE}`, "
        f"contract `{CONTRACT_FILE}`: input 17 x ({r.contract.order[0]}, {r.contract.order[1]}, score), {r.contract.units}",
        f"- training rows: {len(table)} ({', '.join(f'{k} {v}' for k, v in table.counts().items())})"
        + (f", and {r.variant_rows} pixel-level variants of the fitting photos" if r.variant_rows else "")
        + (f", and {r.synthetic_rows} synthetic poses per network (3D templates, random cameras)"
           if r.synthetic_rows else ""),
        f"- epochs: {r.epochs_run} of at most {config.epochs} (best {r.best_epoch}), seed {config.seed}"
        if len(r.members) < 2 else
        f"- {len(r.members)} networks, seeds {config.seed}..{config.seed + len(r.members) - 1}, their probabilities "
        f"averaged by the exported model; epochs (best) of each, at most {config.epochs}: "
        + ", ".join(f"{run} ({best})" for run, best in r.members),
        f"- evaluated on: the {r.evaluated_on} set ({r.tflite.n} rows), with the exported .tflite through edgeapp's runtime",
        f"- Keras accuracy {r.keras.accuracy:.4f}; exported model accuracy {r.tflite.accuracy:.4f}; "
        f"same top label on {100 * r.agreement:.2f}% of rows (largest probability difference {r.max_prob_diff:.5f})",
        "",
        "## Exported model",
        "",
        r.tflite.markdown(),
        f"![confusion matrix]({CONFUSION_PNG})",
        "",
    ]
    (r.out_dir / REPORT_MD).write_text("\n".join(md))
    if r.tflite.n:
        plot_confusion(r.tflite, r.out_dir / CONFUSION_PNG, f"{r.evaluated_on} accuracy {r.tflite.accuracy:.3f} (n={r.tflite.n})")


def print_progress(entry: EpochLog, stream=None) -> None:
    print(entry.line(), file=stream or sys.stderr, flush=True)
