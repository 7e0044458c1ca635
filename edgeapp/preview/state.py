"""The preview's view of the pipeline: one plain dict for ``/state.json``, the page and the overlay.

Read from another thread than the frame loop's. That is safe without a lock because
the frame loop replaces ``pipeline.latest`` as a whole and never changes a
``FrameResult`` (nor its frozen classification and hold state) once published.
:class:`PipelineView` is all the preview reads; the pipeline never imports the
preview (the service hands it :func:`snapshot_jpeg` to draw MQTT snapshots).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from edgeapp.events.detection import box_json
from edgeapp.preview.overlay import render

if TYPE_CHECKING:
    from edgeapp.events import StatsEvent
    from edgeapp.service.pipeline import FrameResult, PipelineStats


class PipelineView(Protocol):
    """What the preview reads from the pipeline, from its own threads; it never writes to it."""

    latest: FrameResult | None  # the last finished frame, replaced whole, never changed once published
    running: bool  # the frame loop is turning (for /healthz)
    progress_at: float  # time.monotonic() of the frame loop's last turn (for /healthz)
    stats: PipelineStats  # frames, started, fps()

    def backend(self) -> tuple[str, bool]: ...

    def stats_event(self) -> StatsEvent: ...

    def camera(self) -> dict[str, Any]: ...  # CameraStatus.as_dict(): "state" up | down | starting, ...


def describe(pipeline: PipelineView, result: FrameResult | None = None) -> dict[str, Any]:
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
            "score": round(c.answer.score, 3) if label and c.answer.label == label else None,
            "held_s": round(c.hold.held_s, 2) if label else 0.0,
            "candidate": c.hold.candidate,
            "frame_label": c.answer.label,
            "status": c.answer.status,
        }
    if result.reps is not None:
        r = result.reps
        state["reps"] = {"exercise": r.exercise, "count": r.count, "set_reps": r.set_reps, "phase": r.phase}
    state["detections"] = [{"label": d.label, "score": round(d.score, 3), "box": box_json(d.box), "id": d.id}
                           for d in result.detections or ()]
    if result.target is not None:
        state["target"] = {"id": result.target}
    return state


def annotated(pipeline: PipelineView, result: FrameResult, draw=render) -> np.ndarray:
    """A frame result drawn as the preview shows it (skeleton, boxes, target, pose and status lines)."""
    return draw(result.frame.image, describe(pipeline, result), pose=result.pose,
                detections=result.detections, target=result.target, people=result.people)


def snapshot_jpeg(pipeline: PipelineView, result: FrameResult, quality: int) -> bytes:
    """``result`` drawn as the preview shows it, as JPEG: the pipeline's snapshot renderer."""
    ok, jpeg = cv2.imencode(".jpg", annotated(pipeline, result), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"OpenCV could not encode frame {result.frame.index} as JPEG")
    return jpeg.tobytes()
