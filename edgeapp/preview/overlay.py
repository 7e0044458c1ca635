"""Drawing the preview: skeleton, detection boxes and target, pose, hold timer, fps/backend.

Pure functions over a BGR ``uint8`` image and plain values. ``draw_*`` draw onto the
image they are given, in place, and return it; :func:`render` copies the frame first,
so the pipeline's own frame is never touched (other consumers may still read it).
No function here keeps state between calls.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import cv2
import numpy as np

from edgeapp.detect.detection import Detection
from edgeapp.pose.keypoint import BodyPart as P

# COCO keypoint pairs joined in the skeleton, coloured by side as in the MoveNet sample.
LEFT, RIGHT, CENTRE = (255, 0, 255), (255, 255, 0), (0, 255, 255)  # BGR: magenta, cyan, yellow
COCO_EDGES: tuple[tuple[int, int, tuple[int, int, int]], ...] = (
    (P.NOSE, P.LEFT_EYE, LEFT), (P.NOSE, P.RIGHT_EYE, RIGHT),
    (P.LEFT_EYE, P.LEFT_EAR, LEFT), (P.RIGHT_EYE, P.RIGHT_EAR, RIGHT),
    (P.NOSE, P.LEFT_SHOULDER, LEFT), (P.NOSE, P.RIGHT_SHOULDER, RIGHT),
    (P.LEFT_SHOULDER, P.LEFT_ELBOW, LEFT), (P.LEFT_ELBOW, P.LEFT_WRIST, LEFT),
    (P.RIGHT_SHOULDER, P.RIGHT_ELBOW, RIGHT), (P.RIGHT_ELBOW, P.RIGHT_WRIST, RIGHT),
    (P.LEFT_SHOULDER, P.RIGHT_SHOULDER, CENTRE),
    (P.LEFT_SHOULDER, P.LEFT_HIP, LEFT), (P.RIGHT_SHOULDER, P.RIGHT_HIP, RIGHT),
    (P.LEFT_HIP, P.RIGHT_HIP, CENTRE),
    (P.LEFT_HIP, P.LEFT_KNEE, LEFT), (P.LEFT_KNEE, P.LEFT_ANKLE, LEFT),
    (P.RIGHT_HIP, P.RIGHT_KNEE, RIGHT), (P.RIGHT_KNEE, P.RIGHT_ANKLE, RIGHT),
)
KEYPOINT_THRESHOLD = 0.2  # MoveNet keypoints below this are guesses: drawing them misleads staff
BOX = (0, 200, 0)
TARGET = (0, 0, 255)
TEXT = (255, 255, 255)
PANEL = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _scale(image: np.ndarray) -> float:
    return max(0.4, image.shape[0] / 720.0)  # text and lines grow with the frame, readable from a distance


def _pixel(image: np.ndarray, x: float, y: float) -> tuple[int, int]:
    h, w = image.shape[:2]
    return int(round(min(max(x, 0.0), 1.0) * (w - 1))), int(round(min(max(y, 0.0), 1.0) * (h - 1)))


def draw_skeleton(image: np.ndarray, xy: np.ndarray, scores: np.ndarray,
                  threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
    """The COCO skeleton of one pose: ``xy`` ``[17, 2]`` normalised (x, y), ``scores`` ``[17]``."""
    s = _scale(image)
    thickness = max(1, int(round(3 * s)))
    points = [_pixel(image, float(x), float(y)) for x, y in np.asarray(xy, dtype=np.float64)]
    ok = np.asarray(scores) > threshold
    for a, b, colour in COCO_EDGES:
        if ok[a] and ok[b]:
            cv2.line(image, points[a], points[b], colour, thickness, cv2.LINE_AA)
    for i, p in enumerate(points):
        if ok[i]:
            cv2.circle(image, p, thickness + 2, (0, 0, 255), -1, cv2.LINE_AA)
    return image


def draw_people(image: np.ndarray, people: Iterable[Any], threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
    """Every person's skeleton, each labelled with their track id above the head (``people``: objects
    with ``id`` and ``pose``, as the pipeline's ``PersonPose``)."""
    for person in people:
        pose = person.pose
        draw_skeleton(image, pose.xy, pose.scores, threshold)
        if person.id is not None:
            x0, y0, x1, _ = pose.box
            _label(image, f"#{person.id}", _pixel(image, (x0 + x1) / 2, y0), PANEL)
    return image


def draw_detections(image: np.ndarray, detections: Iterable[Detection], target: int | None = None) -> np.ndarray:
    """Boxes with label and score; the target (a track id) in red with a cross at its centre, so
    staff can see what a pan/tilt rig follows."""
    s = _scale(image)
    target_box = None
    for d in detections or ():
        if target is not None and d.id == target:
            target_box = d  # drawn below, on top
        else:
            _box(image, d, BOX, max(1, int(round(2 * s))))
    if target_box is not None:
        _box(image, target_box, TARGET, max(2, int(round(4 * s))))
        cx, cy = _pixel(image, *target_box.box.center)
        arm = int(round(12 * s))
        cv2.line(image, (cx - arm, cy), (cx + arm, cy), TARGET, max(1, int(round(2 * s))), cv2.LINE_AA)
        cv2.line(image, (cx, cy - arm), (cx, cy + arm), TARGET, max(1, int(round(2 * s))), cv2.LINE_AA)
    return image


def _box(image: np.ndarray, b: Detection, colour: tuple[int, int, int], thickness: int) -> None:
    p0 = _pixel(image, b.box.xmin, b.box.ymin)
    p1 = _pixel(image, b.box.xmax, b.box.ymax)
    cv2.rectangle(image, p0, p1, colour, thickness, cv2.LINE_AA)
    name = f"{'#%d ' % b.id if b.id is not None else ''}{b.label} {b.score:.2f}".strip()
    _label(image, name, (p0[0], max(p0[1] - 4, 0)), colour)


def _label(image: np.ndarray, text: str, origin: tuple[int, int], background: tuple[int, int, int],
           scale: float | None = None) -> None:
    """Text on a filled box; ``origin`` is the bottom-left of the text, kept inside the frame."""
    s = scale or 0.6 * _scale(image)
    thickness = max(1, int(round(2 * s)))
    (w, h), base = cv2.getTextSize(text, FONT, s, thickness)
    x = min(max(origin[0], 0), max(image.shape[1] - w - 4, 0))
    y = min(max(origin[1], h + 4), image.shape[0] - base - 2)
    cv2.rectangle(image, (x, y - h - 4), (x + w + 4, y + base + 2), background, -1)
    cv2.putText(image, text, (x + 2, y), FONT, s, TEXT, thickness, cv2.LINE_AA)


def pose_text(label: str | None, score: float | None, held_s: float | None, candidate: str | None = None) -> str:
    """The pose line: the held pose with its confidence and hold timer, a pose being confirmed, or none."""
    if label:
        conf = f" {score:.0%}" if score is not None else ""
        return f"{label}{conf}  held {held_s or 0.0:.1f} s"
    if candidate:
        return f"{candidate}?"
    return "no pose"


def status_text(fps: float | None, backend: str, fallback: bool) -> str:
    return f"{fps or 0.0:.1f} fps  {backend}{' (fallback)' if fallback else ''}"


def reps_text(reps: Mapping[str, Any] | None) -> str | None:
    """The rep counter line: exercise, count and where in the rep the person is."""
    if not reps:
        return None
    phase = f"  ({reps['phase']})" if reps.get("phase") else ""
    return f"{reps['exercise'].replace('_', ' ')}: {reps['count']} reps{phase}"


def draw_status(image: np.ndarray, pose_line: str, status_line: str, reps_line: str | None = None) -> np.ndarray:
    """The pose line large at the top left, the rep count under it, fps/backend small at the bottom left."""
    s = _scale(image)
    _label(image, pose_line, (6, int(40 * s)), PANEL, scale=1.0 * s)
    if reps_line:
        _label(image, reps_line, (6, int(85 * s)), PANEL, scale=1.0 * s)
    _label(image, status_line, (6, image.shape[0] - 6), PANEL, scale=0.5 * s)
    return image


def render(image: np.ndarray, state: Mapping[str, Any], pose=None, detections=None, target=None,
           people=()) -> np.ndarray:
    """A copy of the frame with everything drawn. ``state`` is the preview state (see
    ``edgeapp.preview.state.describe``): its ``pose`` and ``backend`` parts are drawn as text.
    ``people`` (poses with track ids) replace the single ``pose`` when there are any."""
    out = image.copy()
    if detections:
        draw_detections(out, detections, target)
    if people:
        draw_people(out, people)
    elif pose is not None:
        draw_skeleton(out, pose.xy, pose.scores)
    p = state.get("pose") or {}
    draw_status(out, pose_text(p.get("label"), p.get("score"), p.get("held_s"), p.get("candidate")),
                status_text(state.get("fps"), state.get("backend", "none"), bool(state.get("fallback"))),
                reps_text(state.get("reps")))
    return out
