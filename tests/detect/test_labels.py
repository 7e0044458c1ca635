"""Label files in the shapes they come in."""

from __future__ import annotations

import numpy as np
import pytest

from support.shared import COCO_LABELS, MODELS
from edgeapp.detect.labels import Labels
from edgeapp.errors import ConfigError, ModelError

LABELMAP = MODELS / "detection" / "ssd_mobilenet_v1_coco_quant_labelmap.txt"


def test_plain_list_with_na_holes():
    labels = Labels.from_file(COCO_LABELS)
    assert labels.name(0) == "person" and labels.name(16) == "cat" and labels.name(2) == "car"
    assert labels.name(11) is None  # "n/a": COCO has no category 12
    assert len(labels) == 80 and labels.max_id == 89
    assert labels.name(120) == "120"  # beyond the file: named by number, as pycoral does


def test_background_line_shifts_by_one_and_agrees_with_the_plain_list():
    plain, with_bg = Labels.from_file(COCO_LABELS), Labels.from_file(LABELMAP)
    assert with_bg.name(0) == "person" and with_bg.name(16) == "cat"
    assert list(with_bg) == list(plain)
    unshifted = Labels.from_file(LABELMAP, background="no")
    assert unshifted.name(0) is None and unshifted.name(1) == "person"


def test_id_label_lines_in_any_order_with_gaps():
    labels = Labels.from_lines(["0  person", "2: car", "16 cat", "", "15 n/a", "5 big bus"], source="t.txt")
    assert [labels.name(i) for i in (0, 2, 16, 15, 5)] == ["person", "car", "cat", None, "big bus"]
    assert labels.name(1) == "1"


def test_id_lines_with_background_zero():
    labels = Labels.from_lines(["0 background", "1 person", "2 bicycle"])
    assert labels.name(0) == "person" and labels.name(1) == "bicycle"


def test_crlf_bom_and_trailing_blank_lines(tmp_path):
    p = tmp_path / "l.txt"
    p.write_bytes("\ufeffClownFish\r\nroses\r\n\r\n".encode("utf-8"))
    assert list(Labels.from_file(p)) == [(0, "ClownFish"), (1, "roses")]


def test_bad_files_say_which_line(tmp_path):
    with pytest.raises(ModelError, match=r"t.txt:2: expected 'id label'"):
        Labels.from_lines(["0 person", "bicycle"], source="t.txt")
    with pytest.raises(ModelError, match="id 0 appears twice"):
        Labels.from_lines(["0 a", "0 b"], source="t.txt")
    with pytest.raises(ModelError, match="empty"):
        Labels.from_lines(["", ""], source="t.txt")
    with pytest.raises(ModelError, match="not found"):
        Labels.from_file(tmp_path / "missing.txt")


def test_names_to_ids_and_the_class_mask():
    labels = Labels.from_file(COCO_LABELS)
    assert labels.ids_of(["Person", "cat"], "k") == {0, 16}
    with pytest.raises(ConfigError, match="k: 'bycicle' is not a label .*did you mean 'bicycle'"):
        labels.ids_of(["bycicle"], "k")
    mask = labels.class_mask(allow=None, deny=frozenset({16}), size=90)
    assert mask[0] and not mask[16] and not mask[11]  # holes are never kept
    mask = labels.class_mask(allow=frozenset({0}), deny=frozenset(), size=90)
    assert np.flatnonzero(mask).tolist() == [0]
