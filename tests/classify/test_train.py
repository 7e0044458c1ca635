"""Training your own classifier (TensorFlow: the `train` extra; skipped where it is not installed).

One model is trained once per session on the tutorial's train_data.csv with a fixed seed and a
small epoch cap (CI time), then checked against test_data.csv, against its own Keras model, and
end to end on images through edgeapp's runtime.
"""

from __future__ import annotations

import json
from dataclasses import replace
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from support.shared import IMAGES  # noqa: E402
from edgeapp.classify.classifier import PoseClassifier  # noqa: E402
from edgeapp.classify.contract import ClassifierContract, encode_keypoints, encode_table, pose_features  # noqa: E402
from edgeapp.classify.dataset import read_csv, write_csv  # noqa: E402
from edgeapp.classify.extract import extract  # noqa: E402
from edgeapp.classify.train import TrainConfig, build_model, split_validation, train  # noqa: E402

from .helpers import (FRAGILE, TEST_CSV, TRAIN_CSV, TRAIN_IMAGES, cpu, gated_images, image_name, movenet,  # noqa: E402
                      still_pose, training_images)

pytestmark = pytest.mark.slow

EPOCH_CAP = 40  # early stopping rarely ends sooner; 40 epochs of 578 rows take ~10 s on one x86 core


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    lines = []
    result = train(read_csv(TRAIN_CSV), out, TrainConfig(epochs=EPOCH_CAP, seed=42), read_csv(TEST_CSV),
                   progress=lambda e: lines.append(e.line()))
    return result, lines


def test_trained_model_reaches_95_percent_on_the_test_csv(trained):
    r, _ = trained
    assert r.evaluated_on == "test" and r.tflite.n == 425
    assert r.tflite.accuracy >= 0.95, r.tflite.markdown()
    assert r.keras.accuracy >= 0.95
    assert 1 <= r.epochs_run <= EPOCH_CAP


def test_exported_tflite_through_our_runtime_answers_like_keras(trained):
    r, _ = trained
    test = read_csv(TEST_CSV)
    x = encode_table(test.xy, test.scores, r.contract.order)
    keras_probs = r.keras_model.predict(x, verbose=0)
    runtime = PoseClassifier.open(r.model_path, request=cpu())  # contract and labels from the export folder
    assert runtime.contract == r.contract and runtime.labels == test.labels
    tflite_probs = runtime.predict_table(x)
    assert (keras_probs.argmax(1) == tflite_probs.argmax(1)).all()
    assert np.abs(keras_probs - tflite_probs).max() < 0.02  # dynamic-range weights, as the tutorial exports
    assert r.agreement == 1.0


def test_export_folder_and_report(trained):
    r, lines = trained
    files = {p.name for p in r.out_dir.iterdir()}
    assert files >= {"classifier.tflite", "labels.txt", "classifier.contract.json", "report.md", "report.json",
                     "confusion_matrix.png"}
    assert (r.out_dir / "labels.txt").read_text().split() == ["chair", "cobra", "dog", "tree", "warrior"]
    contract = json.loads((r.out_dir / "classifier.contract.json").read_text())
    assert contract["order"] == "yx" and contract["units"] == "pixels" and len(contract["labels"]) == 5
    report = json.loads((r.out_dir / "report.json").read_text())
    assert report["tflite"]["accuracy"] == round(r.tflite.accuracy, 4)
    assert set(report["tflite"]["per_class"]["tree"]) == {"precision", "recall", "support"}
    assert np.array(report["tflite"]["confusion"]["matrix"]).sum() == 425
    md = (r.out_dir / "report.md").read_text()
    assert "| class | precision | recall | support |" in md and "| true \\ predicted | chair |" in md
    assert (r.out_dir / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(lines) == r.epochs_run and lines[0].startswith(f"epoch   1/{EPOCH_CAP}  loss ")
    assert "val_accuracy" in lines[0]


def notebook_embedding(features: np.ndarray) -> np.ndarray:
    """The notebook's landmarks_to_embedding in numpy, for one sample (batch size 1), quirks and all."""
    lm = features.reshape(17, 3)[:, :2].astype(np.float64)
    hips = 0.5 * lm[11] + 0.5 * lm[12]
    shoulders = 0.5 * lm[5] + 0.5 * lm[6]
    centred = lm - hips
    torso = np.linalg.norm(shoulders - hips)
    max_dist = np.max(np.linalg.norm(centred, axis=0))  # norm over the keypoint axis (not per keypoint)
    return (centred / max(2.5 * torso, max_dist)).reshape(34)


def test_in_graph_normalisation_is_the_notebooks(trained):
    import keras

    r, _ = trained
    embed = keras.Model(r.keras_model.input, r.keras_model.get_layer("pose_embedding").output)
    test = read_csv(TEST_CSV)
    x = encode_table(test.xy[:50], test.scores[:50], "yx")
    got = embed.predict(x, verbose=0)
    want = np.stack([notebook_embedding(row) for row in x])
    assert np.allclose(got, want, atol=1e-5)
    # Per sample: a row's embedding does not depend on the batch it is in (the notebook's does).
    assert np.allclose(embed.predict(x[:1], verbose=0), got[:1], atol=1e-6)


def test_trained_model_on_images_end_to_end(trained):
    r, _ = trained
    classifier = PoseClassifier.open(r.model_path, request=cpu())
    assert classifier.classify(still_pose(IMAGES / "tfex_pose_image3_tree.jpeg")).label == "tree"
    wrong = []
    for path in training_images():
        result = classifier.classify(still_pose(path))
        # No gate any more: a photo under the TF sample's gate is classified, and may flip like the fragile ones.
        if image_name(path) not in FRAGILE and image_name(path) not in gated_images() \
                and result.label != path.parent.name:
            wrong.append((image_name(path), result.label, result.score))
    # A 40-epoch model trained on the tutorial's Thunder keypoints, shown Lightning INT8 keypoints: one photo
    # may flip (girl1_warrior046 reads tree 0.70 after a one-grey-level change in resampling); two may not.
    assert len(wrong) <= 1, wrong


def test_extractor_trainer_runtime_agree_by_construction(tmp_path):
    """Extract keypoints from photos, train on them (with the non-default xy order, to prove the
    sidecar carries it), export, and run the export through the runtime on the same photos."""
    extraction = extract(TRAIN_IMAGES, movenet(), threshold=0.1)  # the TF sample's gate, opted in
    assert [name for name, _ in extraction.skipped] == gated_images()
    csv = tmp_path / "kp.csv"
    write_csv(csv, extraction.table)
    table = read_csv(csv)
    # The CSV row of each photo is, value for value, what the runtime builds from its pose.
    for i, name in enumerate(table.files):
        pose = still_pose(TRAIN_IMAGES / name)
        row = encode_keypoints(table.xy[i], table.scores[i], "xy")
        live = pose_features(pose, ClassifierContract("xy", "pixels"))
        assert np.array_equal(row[0::3], live[0::3]) and np.array_equal(row[1::3], live[1::3])  # same pixels
        assert np.allclose(row[2::3], live[2::3], atol=1e-6)  # scores: 6 decimals in the CSV

    r = train(table, tmp_path / "out", TrainConfig(epochs=60, seed=1, order="xy", learning_rate=0.02,
                                                  validation_split=0.0, patience=15))
    assert r.evaluated_on.startswith("training") and r.tflite.accuracy == 1.0
    runtime = PoseClassifier.open(r.model_path, request=cpu())
    assert runtime.contract.order == "xy"
    for name in table.files:
        assert runtime.classify(still_pose(TRAIN_IMAGES / name)).label == name.split("/")[0]


def test_split_validation_is_stratified_and_seeded():
    classes = np.repeat(np.arange(3), [20, 10, 7])
    fit, val = split_validation(classes, 0.15, seed=3)
    assert np.bincount(classes[val]).tolist() == [3, 1, 1]
    assert sorted(np.concatenate([fit, val]).tolist()) == list(range(37))
    assert np.array_equal(val, split_validation(classes, 0.15, seed=3)[1])


def test_network_is_the_tutorials():
    model = build_model(5)
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [d.units for d in dense] == [128, 64, 5]
    assert [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"] == [0.5, 0.5]
    assert model.input_shape == (None, 51) and model.output_shape == (None, 5)


@pytest.mark.parametrize("mask_score", [None, 0.2])
def test_a_row_with_no_body_embeds_as_zeros_not_nan(mask_score):
    """No torso and no joint seen (nobody there: every joint on one pixel) is 0/0 in the embedding; one such row
    in a batch turned every weight into NaN. Floored, it embeds as zeros and the network answers numbers."""
    model = build_model(5, mask_score=mask_score)
    rows = np.zeros((2, 51), np.float32)
    rows[1, 0::3], rows[1, 1::3] = 120.0, 80.0  # all 17 joints on one pixel, scores 0
    out = model(rows, training=False).numpy()
    assert np.isfinite(out).all() and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_cli_train(tmp_path):
    csv = tmp_path / "k.csv"
    write_csv(csv, read_csv(TEST_CSV))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "edgeapp", "classifier", "train", "--csv", csv, "--out", out,
                        "--epochs", "3", "--no-quantize"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "epoch   1/3  loss" in r.stderr and "epoch   3/3" in r.stderr
    assert "validation accuracy" in r.stdout and (out / "classifier.tflite").is_file()
    assert PoseClassifier.open(out / "classifier.tflite", request=cpu()).labels == read_csv(TEST_CSV).labels


def test_photo_variants_join_the_fitting_rows_of_their_photos_only(tmp_path):
    """A variant of a validation photo would let the validation set into the fitting: it is left out, and
    the report says how many joined."""
    from edgeapp.classify.augment import mirrored
    from edgeapp.classify.dataset import KeypointTable

    table = read_csv(TEST_CSV)
    xy, scores = mirrored(table.xy, table.scores)
    variants = KeypointTable(tuple(f"{f}#mirror" for f in table.files), xy, scores, table.class_no, table.labels)
    config = TrainConfig(epochs=1, seed=5, validation_split=0.2)
    r = train(table, tmp_path, config, variants=variants)
    fit, val = split_validation(table.class_no, 0.2, 5)
    assert len(val) and r.variant_rows == len(fit)
    assert json.loads((tmp_path / "report.json").read_text())["photo_variant_rows"] == len(fit)
    assert f"and {len(fit)} pixel-level variants" in (tmp_path / "report.md").read_text()


def test_members_are_averaged_by_the_exported_model(tmp_path):
    """``members=2`` exports one model whose probabilities are the mean of the networks seeds s and s+1 train
    alone (each its own split, weights and augmentation)."""
    from edgeapp.classify.augment import Augmentation

    table = read_csv(TEST_CSV)
    base = TrainConfig(epochs=4, seed=11, quantize=False, mask_score=0.2, augment=Augmentation(copies=1))
    alone = [train(table, tmp_path / f"alone{s}", replace(base, seed=s)) for s in (11, 12)]
    both = train(table, tmp_path / "both", replace(base, members=2))
    x = encode_table(table.xy, table.scores, "yx")
    each = [PoseClassifier.open(r.model_path, request=cpu()).predict_table(x) for r in alone]
    mean = PoseClassifier.open(both.model_path, request=cpu()).predict_table(x)
    assert np.abs(mean - (each[0] + each[1]) / 2).max() < 1e-5
    assert np.abs(each[0] - each[1]).max() > 1e-3  # two networks of their own
    assert both.members == tuple((r.epochs_run, r.best_epoch) for r in alone)
    assert both.epochs_run == sum(run for run, _ in both.members)
    assert both.evaluated_on == "first network's validation"
    report = json.loads((tmp_path / "both" / "report.json").read_text())
    assert [m["seed"] for m in report["members"]] == [11, 12]
    assert "2 networks, seeds 11..12" in (tmp_path / "both" / "report.md").read_text()
