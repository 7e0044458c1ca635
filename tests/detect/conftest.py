"""A real detector, opened once: tests share it (10-20 ms a frame here)."""

from __future__ import annotations

import pytest

from support.shared import COCO_LABELS, SSD
from edgeapp.detect import DetectConfig, Detector, Labels
from edgeapp.runtime.backend import BackendRequest
from edgeapp.runtime.model import Model


@pytest.fixture(scope="session")
def ssd_model():
    return Model.open(SSD, BackendRequest("cpu", threads=2))


@pytest.fixture(scope="session")
def coco_labels():
    return Labels.from_file(COCO_LABELS)


@pytest.fixture
def make_detector(ssd_model, coco_labels):
    def make(**config):
        return Detector(ssd_model, coco_labels, DetectConfig(**config))

    return make
