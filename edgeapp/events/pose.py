"""Pose events: the per-frame keypoints, and the classified pose's started/held/ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeapp.events.base import Event, EventError, check_choice, check_number, check_text

POSE_KEYS = ("score", "box", "keypoints")


@dataclass(frozen=True, kw_only=True)
class PoseEvent(Event):
    """One frame's pose. ``pose`` is :func:`pose_json` of a pose (as ``edgeapp infer pose`` prints it), or the
    ``Pose`` itself, turned into that dict only when the event is encoded (on the publisher's thread,
    so the frame loop does not build dicts for events the rate limit drops), or None when no person
    is in view; the payload then says ``"person": false``."""

    kind = "pose"
    pose: Any
    frame: int | None = None
    person_id: int | None = None  # with detection: whose pose (the track id); None on the single-pose path

    def __post_init__(self) -> None:
        if isinstance(self.pose, dict):
            missing = [k for k in POSE_KEYS if k not in self.pose]
            if missing:
                raise EventError(f"pose event: pose dict lacks {missing} (expected pose_json(pose))")
        elif self.pose is not None and not hasattr(self.pose, "keypoints"):
            raise EventError(f"pose event: pose must be a Pose, its pose_json() or None, got {type(self.pose).__name__}")

    @property
    def person(self) -> bool:
        """Someone is there (for a person_id: that person is still followed)."""
        return self.pose is not None

    def body(self) -> dict[str, Any]:
        pose = self.pose if self.pose is None or isinstance(self.pose, dict) else pose_json(self.pose)
        if self.person_id is None:
            return {"person": self.person, "frame": self.frame, **(pose or {})}
        return {"person": self.person_id, "present": self.person, "frame": self.frame, **(pose or {})}

    @classmethod
    def from_body(cls, body: dict[str, Any], ts: float) -> PoseEvent:
        body = dict(body)
        person = body.pop("person", None)
        frame = body.pop("frame", None)
        if isinstance(person, bool):
            return cls(pose=body if person else None, frame=frame, ts=ts)
        present = body.pop("present", None)
        if not isinstance(person, int) or not isinstance(present, bool):
            raise EventError("pose event: person must be true, false or a track id (with present true or false)")
        return cls(pose=body if present else None, frame=frame, person_id=person, ts=ts)


POSE_CLASS_TYPES = ("started", "held", "ended")


@dataclass(frozen=True, kw_only=True)
class PoseClassEvent(Event):
    """The classified yoga pose changed state. Times other than ``ts`` are frame times
    (media time for files, the capture clock for cameras), as the hold tracker keeps them."""

    kind = "pose_class"
    type: str
    label: str
    held_s: float
    started_at: float | None = None
    frame_time: float | None = None
    ended_at: float | None = None  # ended only
    milestone_s: float | None = None  # held only
    reason: str | None = None  # ended only: lost, changed or finished
    score: float | None = None
    person: int | None = None  # with detection: whose pose (the track id)

    def __post_init__(self) -> None:
        check_choice(self.kind, "type", self.type, POSE_CLASS_TYPES)
        check_text(self.kind, "label", self.label)
        check_number(self.kind, "held_s", self.held_s)
        for name in ("started_at", "frame_time", "ended_at", "milestone_s", "score"):
            check_number(self.kind, name, getattr(self, name), optional=True)
        check_text(self.kind, "reason", self.reason, optional=True)
        if self.person is not None and (isinstance(self.person, bool) or not isinstance(self.person, int)):
            raise EventError(f"pose_class event: person must be a track id, got {self.person!r}")

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.person is None:  # the single-pose path: the payload as it always was
            del body["person"]
        return body

    @classmethod
    def from_hold(cls, hold, score: float | None = None, ts: float | None = None,
                  person: int | None = None) -> PoseClassEvent:
        """From the classifier's ``PoseStarted``/``PoseHeld``/``PoseEnded`` (its ``time`` is a frame time)."""
        def r(name: str) -> float | None:
            value = getattr(hold, name, None)
            return None if value is None else round(value, 3)

        extra = {"ts": ts} if ts is not None else {}
        return cls(type=hold.kind, label=hold.label, held_s=r("held_s"), started_at=r("started_at"),
                   frame_time=r("time"), ended_at=r("ended_at"), milestone_s=r("milestone_s"),
                   reason=getattr(hold, "reason", None), score=score, person=person, **extra)


def pose_json(pose, digits: int = 4) -> dict[str, Any]:
    """A ``Pose`` as ``edgeapp infer pose`` prints it and pose events carry it: score, box and the 17
    keypoints (normalised ``x``/``y``, pixel ``px``/``py``), clamped to the frame."""
    pose = pose.clamped()
    return {"score": round(pose.score, digits), "box": [round(v, digits) for v in pose.box],
            "keypoints": _keypoints_json(pose, digits)}


def person_json(person, digits: int = 4) -> dict[str, Any]:
    """A ``PersonPose`` as ``edgeapp infer pose --people`` prints it: its track id (null on a still), pose score,
    detection box (normalised, within [0, 1]) and keypoints as :func:`pose_json` gives them."""
    pose = person.pose.clamped()
    return {"id": person.id, "score": round(pose.score, digits),
            "box": [round(min(max(float(v), 0.0), 1.0), digits) for v in person.box],
            "keypoints": _keypoints_json(pose, digits)}


def _keypoints_json(clamped, digits: int) -> list[dict[str, Any]]:
    """Keypoints by ``Pose.clamped``'s rule (x, y in [0, 1), pixels in the frame): a joint MoveNet guesses beyond
    the frame's edge is shown on the edge's last pixel."""
    return [{"name": k.name, "x": round(k.x, digits), "y": round(k.y, digits), "px": k.px, "py": k.py,
             "score": round(k.score, digits)}
            for k in clamped.keypoints()]
