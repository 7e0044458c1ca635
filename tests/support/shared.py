"""Where the shared models and media are. Tests read them from ../shared/data, never copies.

Import these from here (``from support.shared import MOVENET``), not from ``conftest``: several
folders have a conftest.py, and importing one by name can pick up another.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
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
TUD_CAMPUS = DATA / "tracking" / "tud_campus"

if not MOVENET.is_file():  # pragma: no cover - a broken checkout, not a test result
    raise RuntimeError(f"shared data not found at {DATA}; set EDGEAPP_SHARED_DATA")
