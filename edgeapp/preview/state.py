"""The preview's view of the pipeline: one plain dict for ``/state.json``, the page and the overlay.

Read from another thread than the frame loop's. That is safe without a lock because
the frame loop replaces ``pipeline.latest`` as a whole and never changes a
``FrameResult`` (nor its frozen classification and hold state) once published.
"""

from __future__ import annotations

import time
from typing import Any

from edgeapp.preview.overlay import as_box


def describe(pipeline, result=None) -> dict[str, Any]:
    """The latest state: frame, pose (held label, confidence, hold seconds), detections, fps, backend.

    ``pose.label`` is the *held* pose (the label of the ``pose_class`` events); ``pose.frame_label``
    is this frame's classification, which may flicker."""
    result = pipeline.latest if result is None else result
    backend, fallback = pipeline.backend()
    state: dict[str, Any] = {
        "frame": None, "frame_time": None, "person": False,
        "pose": {"label": None, "score": None, "held_s": 0.0, "candidate": None, "frame_label": None, "status": None},
        "detections": [], "target": None, "reps": None,
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
    r = getattr(result, "reps", None)
    if r is not None:
        state["reps"] = {"exercise": r.exercise, "count": r.count, "set_reps": r.set_reps, "phase": r.phase}
    # The detection stage is optional and being integrated: draw what a result carries, if anything.
    boxes = [as_box(d) for d in getattr(result, "detections", None) or ()]
    state["detections"] = [{"label": b.label, "score": round(b.score, 3), "box": [round(v, 4) for v in b.box], "id": b.id}
                           for b in boxes if b is not None]
    target = getattr(result, "target", None)
    if target is not None:
        t = as_box(target)
        state["target"] = {"id": int(target)} if t is None and isinstance(target, int) else \
            (None if t is None else {"label": t.label, "box": [round(v, 4) for v in t.box], "id": t.id})
    return state
