"""Object detection (SSD / EfficientDet-Lite with the TFLite post-processing op) and IoU tracking."""

from edgeapp.detect.detection import Detection, iou
from edgeapp.detect.detector import DetectConfig, Detector, OutputLayout, resolve_layout
from edgeapp.detect.labels import Labels
from edgeapp.detect.tracker import IouTracker, Track, TrackerConfig, TrackerUpdate, TrackEvent

__all__ = [
    "Detection", "iou", "DetectConfig", "Detector", "OutputLayout", "resolve_layout",
    "Labels", "IouTracker", "Track", "TrackerConfig", "TrackerUpdate", "TrackEvent",
]
