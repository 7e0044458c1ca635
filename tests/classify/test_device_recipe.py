"""The shipped model's recipe, capped for CI: Lightning INT8 keypoints of a quarter of yoga_poses_train,
negatives mined from the carving clip, augmentation, a masked embedding and an "other" class; checked on
photos of the same people it did not train on (accuracy, not bit-identity with the shipped model)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from support.shared import VIDEO  # noqa: E402
from edgeapp.classify.augment import Augmentation  # noqa: E402
from edgeapp.classify.classifier import PoseClassifier  # noqa: E402
from edgeapp.classify.evaluate import evaluate_negatives, evaluate_table  # noqa: E402
from edgeapp.classify.extract import extract  # noqa: E402
from edgeapp.classify.negatives import mine  # noqa: E402
from edgeapp.classify.recipe import DEVICE  # noqa: E402
from edgeapp.classify.train import TrainingError, train  # noqa: E402

from .helpers import YOGA, cpu, movenet  # noqa: E402

pytestmark = pytest.mark.slow
PHOTOS = YOGA / "yoga_poses_train"


def every_nth(tmp, n: int, offset: int):
    """A folder of links to every nth photo of each class (the extraction of all 1000 takes ~35 s)."""
    for cls in sorted(p for p in PHOTOS.iterdir() if p.is_dir()):
        (tmp / cls.name).mkdir(parents=True)
        for photo in sorted(cls.iterdir())[offset::n]:
            (tmp / cls.name / photo.name).symlink_to(photo)
    return tmp


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recipe")
    estimator = movenet()
    fit = extract(every_nth(tmp / "fit", 4, 0), estimator, 0.0).table
    held = extract(every_nth(tmp / "held", 8, 2), estimator, 0.0).table
    negatives = mine([VIDEO / "carving_ice.mp4"], estimator, still_every=10)
    # Capped for CI: 2 variants per row, at most 60 epochs, and 'other' when that output is over one half instead
    # of the leave-one-person-out calibration (six trainings) the shipped model gets; its three networks stay.
    # Measured here: 86.4% right, 10.9% of the negatives named as a pose (without the recipe's synthetic poses:
    # 86.4%, 8.2%; one network: 84%, 7%); the bounds below leave room for another machine's float order.
    config = replace(DEVICE, epochs=60, patience=15, augment=Augmentation(copies=2), other_threshold=0.5)
    r = train(fit, tmp / "model", config, negatives=negatives)
    return r, held, negatives


def test_capped_recipe_names_held_out_photos(capped):
    r, held, _ = capped
    classifier = PoseClassifier.open(r.model_path, request=cpu())
    assert classifier.labels[-1] == "other" and classifier.contract.other_label == "other"
    ev = evaluate_table(classifier, held)
    print(f"capped recipe: {ev.accuracy:.1%} of {ev.n} held-out photos right")
    assert ev.n == len(held) == 125
    assert ev.accuracy >= 0.75, ev.markdown()


def test_capped_recipe_answers_other_on_its_negatives(capped):
    r, _, negatives = capped
    neg = evaluate_negatives(PoseClassifier.open(r.model_path, request=cpu()), negatives)
    print(f"capped recipe: {neg.false_pose_share:.1%} of {neg.n} negatives named as a pose")
    assert neg.false_pose_share <= 0.15, neg


def test_one_class_is_refused_with_a_message(tmp_path):
    fit = extract(every_nth(tmp_path / "one", 50, 0), movenet(), 0.0).table
    from edgeapp.classify.calibrate import subset

    only_tree = subset(fit, np.flatnonzero(fit.class_no == fit.labels.index("tree")))
    one = type(only_tree)(only_tree.files, only_tree.xy, only_tree.scores, np.zeros(len(only_tree), dtype=np.int64),
                          ("tree",))
    with pytest.raises(TrainingError, match=r"at least 2 classes, the data has only \['tree'\]"):
        train(one, tmp_path / "out")


def test_synthetic_poses_join_the_fitting_rows_and_are_reported(tmp_path):
    """The CLI's device recipe with synthetic poses on the yoga classes; without them on other classes."""
    import json

    from .test_cli_faults import edgeapp
    from .helpers import TRAIN_CSV

    quick = ("--recipe", "device", "--epochs", "2", "--members", "1", "--limit", "4")
    r = edgeapp("classifier", "train", "--csv", TRAIN_CSV, *quick, "--synthetic", "20", "--out", tmp_path / "yoga")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "yoga" / "report.json").read_text())
    assert report["synthetic_rows"] == 100 and report["config"]["synthetic"] == 20
    assert "100 synthetic poses" in (tmp_path / "yoga" / "report.md").read_text()

    other = tmp_path / "other.csv"
    other.write_text(TRAIN_CSV.read_text().replace(",chair", ",plank").replace(",tree", ",bridge"))
    r = edgeapp("classifier", "train", "--csv", other, *quick, "--out", tmp_path / "other")
    assert r.returncode == 0, r.stderr
    assert "no 3D template for the classes ['plank', 'bridge']: no synthetic poses" in r.stderr, r.stderr
    assert json.loads((tmp_path / "other" / "report.json").read_text())["synthetic_rows"] == 0


def test_synthetic_poses_for_a_class_without_a_template_are_refused(tmp_path):
    fit = extract(every_nth(tmp_path / "few", 50, 0), movenet(), 0.0).table
    renamed = type(fit)(fit.files, fit.xy, fit.scores, fit.class_no, ("chair", "cobra", "dog", "plank", "warrior"))
    with pytest.raises(TrainingError, match=r"none for \['plank'\]"):
        train(renamed, tmp_path / "out", replace(DEVICE, epochs=1))
