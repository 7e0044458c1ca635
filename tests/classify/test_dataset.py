"""The tutorial keypoint CSV: layout, round trip, and errors that name the file and line."""

from __future__ import annotations

import numpy as np
import pytest

from edgeapp.classify.dataset import HEADER, DatasetError, KeypointTable, read_csv, write_csv

from .helpers import TEST_CSV, TRAIN_CSV


def test_header_is_the_tutorials_with_x_before_y():
    assert HEADER[:4] == ("file_name", "NOSE_x", "NOSE_y", "NOSE_score")
    assert HEADER[-3:] == ("RIGHT_ANKLE_score", "class_no", "class_name") and len(HEADER) == 54
    assert TRAIN_CSV.read_text().splitlines()[0] == ",".join(HEADER)


def test_read_the_shared_csvs():
    train = read_csv(TRAIN_CSV)
    assert len(train) == 680
    assert train.counts() == {"chair": 167, "cobra": 113, "dog": 139, "tree": 184, "warrior": 77}
    assert train.xy.shape == (680, 17, 2) and train.scores.shape == (680, 17)
    test = read_csv(TEST_CSV)
    assert test.labels == train.labels and test.files[0] == "chair/guy3_chair070.jpg"


def test_round_trip(tmp_path):
    t = read_csv(TEST_CSV)
    out = tmp_path / "k.csv"
    write_csv(out, t)
    back = read_csv(out)
    assert back.files == t.files and back.labels == t.labels
    assert np.array_equal(back.xy, t.xy) and np.array_equal(back.class_no, t.class_no)
    assert np.allclose(back.scores, t.scores, atol=1e-6)
    first = out.read_text().splitlines()[1].split(",")
    assert first[1:4] == ["150", "101", "0.696337"]  # x, y as integer pixels, then the score


def test_columns_yx_swaps(tmp_path):
    a, b = read_csv(TEST_CSV), read_csv(TEST_CSV, columns="yx")
    assert np.array_equal(a.xy[..., ::-1], b.xy)


def write(tmp_path, text):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    return p


def good_row(no=0, name="chair"):
    return ",".join(["a.jpg"] + ["1", "2", "0.5"] * 17 + [str(no), name])


def test_wrong_header(tmp_path):
    p = write(tmp_path, ",".join(HEADER).replace("NOSE_y", "NOSE_z") + "\n" + good_row() + "\n")
    with pytest.raises(DatasetError) as e:
        read_csv(p)
    assert str(p) in str(e.value) and "column 3 is 'NOSE_z'" in str(e.value)


def test_short_row_and_bad_number(tmp_path):
    p = write(tmp_path, ",".join(HEADER) + "\n" + good_row() + "\n" + "a.jpg,1,2\n")
    with pytest.raises(DatasetError, match="line 3: 3 fields"):
        read_csv(p)
    p = write(tmp_path, ",".join(HEADER) + "\n" + good_row().replace("0.5", "abc", 1) + "\n")
    with pytest.raises(DatasetError, match="line 2"):
        read_csv(p)


def test_inconsistent_classes(tmp_path):
    p = write(tmp_path, ",".join(HEADER) + "\n" + good_row(0, "chair") + "\n" + good_row(0, "dog") + "\n")
    with pytest.raises(DatasetError, match="class_no 0 is 'dog' here but 'chair'"):
        read_csv(p)
    p = write(tmp_path, ",".join(HEADER) + "\n" + good_row(0, "chair") + "\n" + good_row(2, "dog") + "\n")
    with pytest.raises(DatasetError, match="none missing"):
        read_csv(p)


def test_empty(tmp_path):
    with pytest.raises(DatasetError, match="no data rows"):
        read_csv(write(tmp_path, ",".join(HEADER) + "\n"))
    with pytest.raises(DatasetError, match="cannot read"):
        read_csv(tmp_path / "missing.csv")


def test_a_video_given_as_a_csv_is_named():
    from support.shared import VIDEO

    with pytest.raises(DatasetError, match=r"carving_ice.mp4 is not a keypoint CSV"):
        read_csv(VIDEO / "carving_ice.mp4")


def test_counts_of_a_built_table():
    t = KeypointTable(("a", "b"), np.zeros((2, 17, 2)), np.ones((2, 17)), np.array([1, 1]), ("x", "y"))
    assert t.counts() == {"x": 0, "y": 2}


def test_negatives_join_as_the_last_class():
    from edgeapp.classify.dataset import subset
    from edgeapp.classify.train import TrainingError, with_negatives

    poses = subset(read_csv(TEST_CSV), np.arange(0, 20, 4))
    negatives = KeypointTable(("a#0/full", "b#0/full"), poses.xy[:2] + 1, poses.scores[:2], np.zeros(2, np.int64),
                              ("other",))
    joined = with_negatives(poses, negatives)
    assert joined.labels == poses.labels + ("other",) and joined.files == poses.files + negatives.files
    np.testing.assert_array_equal(joined.class_no, np.concatenate([poses.class_no, [5, 5]]))
    np.testing.assert_array_equal(joined.xy[len(poses):], negatives.xy)
    with pytest.raises(TrainingError, match=r"negatives must all be of the class 'other', got \['chair'"):
        with_negatives(poses, poses)
