"""The preview's view of the pipeline: one plain dict for ``/state.json``, the page and the overlay.

Read from another thread than the frame loop's. That is safe without a lock because
the frame loop replaces ``pipeline.latest`` as a whole and never changes a
``FrameResult`` (nor its frozen classification and hold state) once published.
"""

from __future__ import annotations

import time
from typing import Any

from edgeapp.events.detection import box_json


def describe(pipeline, result=None) -> dict[str, Any]:
    """The latest state: frame, pose (held label, confidence, hold seconds), detections, fps, backend.

    ``pose.label`` is the *held* pose (the label of the ``pose_class`` events); ``pose.frame_label``
    is this frame's classification, which may flicker."""
    result = pipeline.latest if result is None else result
    backend, fallback = pipeline.backend()
    state: dict[str, Any] = {
        "frame": None, "frame_time": None, "person": False,
        "pose": {"label": None, "score": None, "held_s": 0.0, "candidate": None, "frame_label": None, "status": None},
        "detections": [], "target": None,
        "fps": pipeline.stats.fps(), "backend": backend, "fallback": fallback,
        "frames": pipeline.stats.frames, "uptime_s": round(time.monotonic() - pipeline.stats.started, 1),
    }
    if result is None:
        return state
    state["frame"] = result.frame.index
    state["frame_time"] = round(result.frame.time, 3)
    state["person"] = result.pose is not None
    c = result.classification
    if c is not None:
        label = c.hold.current
        state["pose"] = {
            "label": label,
            # The confidence shown is this frame's, and only when this frame agrees with the held pose.
            "score": round(c.classification.score, 3) if label and c.classification.label == label else None,
            "held_s": round(c.hold.held_s, 2) if label else 0.0,
            "candidate": c.hold.candidate,
            "frame_label": c.classification.label,
            "status": c.classification.status,
        }
    state["detections"] = [{"label": d.label, "score": round(d.score, 3), "box": box_json(d.box), "id": d.id}
                           for d in result.detections or ()]
    if result.target is not None:
        state["target"] = {"id": result.target}
    return state
