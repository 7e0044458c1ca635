"""A light IoU tracker: stable ids across frames, new/update/end events, and the target to follow.

Greedy IoU matching, one label at a time, is enough at the frame rates of a Pi
(the SORT family adds a motion model; at 10 fps with a rig that re-centres the
target, boxes overlap from one frame to the next). A track ends after
``end_after`` consecutive frames without a match, so one missed detection does
not end it and start a new id.

Events are plain data (``type`` new/update/end with ``before``/``after`` dicts,
Frigate's shape) for the MQTT layer to wrap; nothing here knows about MQTT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

from edgeapp.detect.detection import Box, Detection, iou
from edgeapp.settings import Problems, read


@dataclass(frozen=True)
class TrackerConfig:
    """The ``[detect.tracker]`` table."""

    iou_threshold: float = 0.3  # a detection continues a track when their boxes overlap at least this much
    end_after: int = 5  # frames unseen before a track ends
    min_hits: int = 1  # frames seen before a track is announced (new) and may become the target
    target_labels: tuple[str, ...] = ("person",)  # labels the rig may follow; empty: any
    centre_weight: float = 0.5  # when picking a target: score - centre_weight * distance from the frame centre
    update_iou: float = 0.9  # an update event when the box moved so its IoU with the last reported one is below
    update_score: float = 0.1  # ... or the score changed by more than this
    update_min_s: float = 1.0  # ... and at most one update per track this often (frame time), as Frigate


    def check(self, problems: Problems) -> None:
        problems.require(0.0 < self.iou_threshold <= 1.0, "iou_threshold", f"must be in (0, 1], got {self.iou_threshold}")
        problems.require(self.end_after >= 1, "end_after", f"must be at least 1 frame, got {self.end_after}")
        problems.require(self.min_hits >= 1, "min_hits", f"must be at least 1, got {self.min_hits}")
        problems.require(self.centre_weight >= 0.0, "centre_weight", f"must not be negative, got {self.centre_weight}")
        problems.require(0.0 <= self.update_iou <= 1.0, "update_iou", f"must be between 0 and 1, got {self.update_iou}")
        problems.require(self.update_min_s >= 0.0, "update_min_s", f"must not be negative, got {self.update_min_s}")


@dataclass(eq=False)
class Track:
    id: int
    label: str
    label_id: int
    score: float
    box: Box
    start_frame: int
    start_time: float
    last_frame: int
    last_time: float
    top_score: float = 0.0
    hits: int = 1
    missed: int = 0  # consecutive frames unseen
    end_time: float | None = None
    confirmed: bool = False
    _reported: dict | None = field(default=None, repr=False)
    _reported_at: float = field(default=float("-inf"), repr=False)  # frame time of the last update event

    @property
    def seen(self) -> bool:
        """Matched in the latest frame."""
        return self.missed == 0

    @property
    def active(self) -> bool:
        return self.end_time is None

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2.0, (y0 + y1) / 2.0

    def to_dict(self, digits: int = 4) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "label_id": self.label_id,
            "score": round(self.score, digits),
            "top_score": round(self.top_score, digits),
            "box": [round(float(v), digits) for v in self.box],
            "start_frame": self.start_frame,
            "start_time": round(self.start_time, 3),
            "last_frame": self.last_frame,
            "frame_time": round(self.last_time, 3),
            "end_time": None if self.end_time is None else round(self.end_time, 3),
            "hits": self.hits,
            "active": self.active,
        }


@dataclass(frozen=True)
class TrackEvent:
    """``new`` (before is the same as after, as Frigate sends it), ``update`` or ``end``."""

    type: Literal["new", "update", "end"]
    before: dict
    after: dict

    @property
    def track_id(self) -> int:
        return self.after["id"]

    def to_dict(self) -> dict:
        return {"type": self.type, "before": self.before, "after": self.after}


@dataclass
class TrackerUpdate:
    tracks: list[Track]  # live tracks (tentative ones included), oldest first
    ids: list[int]  # the track id of each input detection, in input order
    events: list[TrackEvent]
    target: Track | None  # the track the rig should follow, if any
    target_seen: bool  # the target was matched in this frame: a fresh observation to act on
    target_changed: bool  # a different target (or none) from the previous frame


def greedy_match(track_boxes: Sequence[Box], det_boxes: Sequence[Box], track_labels: Sequence[int],
                 det_labels: Sequence[int], threshold: float, skip_tracks: set[int] = frozenset(),
                 skip_dets: set[int] = frozenset()) -> list[tuple[int, int]]:
    """``(track, detection)`` index pairs of the same label, best overlap first, each at least ``threshold`` IoU.

    Greedy rather than optimal assignment: with the handful of objects a Pi
    camera sees it gives the same answer, and it is deterministic (ties go to
    the lower track, then detection, index). Plain floats: for a few boxes
    numpy's per-call cost is most of the work.
    """
    candidates = []
    for ti, tb in enumerate(track_boxes):
        if ti in skip_tracks:
            continue
        label = track_labels[ti]
        for di, db in enumerate(det_boxes):
            if di not in skip_dets and det_labels[di] == label:
                overlap = iou(tb, db)
                if overlap >= threshold:
                    candidates.append((-overlap, ti, di))
    candidates.sort()
    pairs: list[tuple[int, int]] = []
    used_t: set[int] = set()
    used_d: set[int] = set()
    for _, ti, di in candidates:
        if ti not in used_t and di not in used_d:
            used_t.add(ti)
            used_d.add(di)
            pairs.append((ti, di))
    return pairs


class IouTracker:
    def __init__(self, config: TrackerConfig | None = None):
        self.config = config = config or TrackerConfig()
        self._targets = frozenset(label.casefold() for label in config.target_labels)
        self._tracks: list[Track] = []
        self._next_id = 1
        self._target: Track | None = None

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks)

    @property
    def target(self) -> Track | None:
        return self._target

    def reset(self) -> list[TrackEvent]:
        """End every track (e.g. the source changed); returns their end events."""
        events = [self._end(t, t.last_time) for t in self._tracks if t.confirmed]
        self._tracks.clear()
        self._target = None
        return events

    def update(self, detections: Sequence[Detection], frame: int = 0, time: float = 0.0,
               shift: tuple[float, float] = (0.0, 0.0)) -> TrackerUpdate:
        """One frame's detections. ``shift``: how far the view moved the scene since the last frame
        (normalised; a pan/tilt rig knows it from its last step), applied to the tracks before matching,
        or a rig that re-centres a target would shift its box out of its own track."""
        cfg = self.config
        tracks = self._tracks
        dx, dy = shift
        if dx or dy:
            for t in tracks:
                x0, y0, x1, y1 = t.box
                t.box = (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
        ids = [0] * len(detections)
        events: list[TrackEvent] = []
        matched_tracks: set[int] = set()
        if tracks and detections:
            det_boxes = [d.box for d in detections]
            track_labels = [t.label_id for t in tracks]
            det_labels = [d.label_id for d in detections]
            # First where the view's move puts the tracks; then, for what is left, where they were
            # (the rig had not moved yet) and where a rig turning the other way would put them (an
            # inverted axis: its runaway must stay one track for the controller to notice it).
            offsets = [(0.0, 0.0)] if not (dx or dy) else [(0.0, 0.0), (-dx, -dy), (-2 * dx, -2 * dy)]
            for ox, oy in offsets:
                moved = [(x0 + ox, y0 + oy, x1 + ox, y1 + oy) for x0, y0, x1, y1 in (t.box for t in tracks)]
                for ti, di in greedy_match(moved, det_boxes, track_labels, det_labels, cfg.iou_threshold,
                                           matched_tracks, {i for i, v in enumerate(ids) if v}):
                    matched_tracks.add(ti)
                    ids[di] = tracks[ti].id
                    event = self._continue(tracks[ti], detections[di], frame, time)
                    if event is not None:
                        events.append(event)
        for ti, t in enumerate(tracks):
            if ti not in matched_tracks:
                t.missed += 1
        for di, d in enumerate(detections):
            if ids[di] == 0:
                t = self._start(d, frame, time)
                ids[di] = t.id
                if t.confirmed:
                    t._reported, t._reported_at = t.to_dict(), time
                    events.append(TrackEvent("new", t._reported, t._reported))
        # End what has been unseen for too long; tentative tracks vanish without an event.
        alive = []
        for t in tracks:
            if t.missed > cfg.end_after:
                if t.confirmed:
                    events.append(self._end(t, time))
            else:
                alive.append(t)
        self._tracks = alive
        previous = self._target
        target = self._pick_target()
        self._target = target
        return TrackerUpdate(
            tracks=list(alive),
            ids=ids,
            events=events,
            target=target,
            target_seen=target is not None and target.seen,
            target_changed=target is not previous,
        )

    def _start(self, d: Detection, frame: int, time: float) -> Track:
        t = Track(self._next_id, d.label, d.label_id, d.score, d.box, frame, time, frame, time, top_score=d.score)
        self._next_id += 1
        t.confirmed = self.config.min_hits <= 1
        self._tracks.append(t)
        return t

    def _continue(self, t: Track, d: Detection, frame: int, time: float) -> TrackEvent | None:
        t.box, t.score = d.box, d.score
        t.top_score = max(t.top_score, d.score)
        t.last_frame, t.last_time = frame, time
        t.hits += 1
        t.missed = 0
        if not t.confirmed:
            if t.hits < self.config.min_hits:
                return None
            t.confirmed = True
            t._reported, t._reported_at = t.to_dict(), time
            return TrackEvent("new", t._reported, t._reported)
        before = t._reported or t.to_dict()
        if time - t._reported_at < self.config.update_min_s:
            return None
        moved = iou(before["box"], t.box) < self.config.update_iou
        rescored = abs(before["score"] - t.score) > self.config.update_score
        if not (moved or rescored):
            return None
        t._reported, t._reported_at = t.to_dict(), time
        return TrackEvent("update", before, t._reported)

    def _end(self, t: Track, time: float) -> TrackEvent:
        before = t._reported or t.to_dict()
        t.end_time = time
        return TrackEvent("end", before, t.to_dict())

    def _eligible(self, t: Track) -> bool:
        return t.confirmed and (not self._targets or t.label.casefold() in self._targets)

    def _pick_target(self) -> Track | None:
        current = self._target
        if current is not None and current.active and current in self._tracks:
            return current  # sticky while it lives, even through a few missed frames
        best, best_value = None, -math.inf
        for t in self._tracks:
            if not (t.seen and self._eligible(t)):
                continue
            cx, cy = t.center
            value = t.score - self.config.centre_weight * math.hypot(cx - 0.5, cy - 0.5)
            if value > best_value:
                best, best_value = t, value
        return best
