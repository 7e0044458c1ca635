"""Shared fixtures. Tests read the real models and media from ../shared/data, never copies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EDGEAPP_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
MODELS = DATA / "models"

MOVENET = MODELS / "movenet" / "movenet_single_pose_lightning_ptq.tflite"
MOVENET_EDGETPU = MODELS / "movenet" / "movenet_single_pose_lightning_ptq_edgetpu.tflite"
CLASSIFIER = MODELS / "classifier" / "yoga_classifier.tflite"
CLASSIFIER_LABELS = MODELS / "classifier" / "labels.txt"
SSD = MODELS / "detection" / "ssd_mobilenet_v1_coco_quant_detect.tflite"
COCO_LABELS = MODELS / "detection" / "coco_labels.txt"
IMAGES = DATA / "images"
VIDEO = DATA / "video"

if not MOVENET.is_file():  # pragma: no cover - a broken checkout, not a test result
    raise RuntimeError(f"shared data not found at {DATA}; set EDGEAPP_SHARED_DATA")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """An empty models directory for registry tests."""
    d = tmp_path / "models"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def cpu_request():
    from edgeapp.runtime.backend import BackendRequest

    return BackendRequest(kind="cpu", threads=2)
