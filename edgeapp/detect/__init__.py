"""Object detection (SSD / EfficientDet-Lite with the TFLite post-processing op) and IoU tracking."""

from edgeapp.detect.detection import BBox, Detection, iou
from edgeapp.detect.detector import DetectConfig, Detector, OutputLayout, resolve_layout
from edgeapp.detect.labels import Labels
from edgeapp.detect.tracker import ObjectTracker, Track, TrackerConfig, TrackerUpdate, TrackEvent

__all__ = [
    "BBox", "Detection", "iou", "DetectConfig", "Detector", "OutputLayout", "resolve_layout",
    "Labels", "ObjectTracker", "Track", "TrackerConfig", "TrackerUpdate", "TrackEvent",
]
