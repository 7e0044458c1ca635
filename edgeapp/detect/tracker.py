"""Identities across frames: ByteTrack's association over a constant-velocity Kalman filter.

Each frame (see docs/tracking.md for why this and not norfair):

1. every track's box is predicted to the frame's time (:mod:`edgeapp.detect.motion`);
2. detections scoring at least ``high_score`` (the detector's threshold) are matched
   to confirmed tracks, seen or lost, by IoU weighted by score, optimally;
3. detections between ``low_score`` and ``high_score`` -- a person half hidden, blurred
   -- may only continue a track seen in the previous frame (ByteTrack's second
   association: they keep a track alive without starting false ones);
4. what is left of the strong detections continues tentative tracks;
5. a strong detection left over (``new_margin`` above ``high_score``) starts a
   tentative track. A tentative track is confirmed after ``confirm_hits`` frames in a
   row and dies at its first miss, so a one- or two-frame flicker never gets an id, an
   event or the rig;
6. a confirmed track unseen for ``lost_s`` seconds ends; until then it can be found
   again where its motion puts it (a person behind a pillar keeps their id).

Events (``new``/``update``/``end`` with ``before``/``after`` snapshots, Frigate's shape)
are for confirmed tracks only; :mod:`edgeapp.events.detection` turns them into JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, Sequence

from edgeapp.detect.assign import assign
from edgeapp.detect.detection import BBox, Detection, iou
from edgeapp.detect.motion import BoxMotion
from edgeapp.settings import Problems

FORBIDDEN = math.inf


@dataclass(frozen=True)
class TrackerConfig:
    """The ``[detect.tracker]`` table. Defaults are ByteTrack's published ones (match_thresh 0.8 ->
    IoU 0.2, second association 0.5, unconfirmed 0.7 -> 0.3, low score 0.1, new track at the
    detection threshold + 0.1, a 30-frame buffer at 30 fps -> 1 s), and SORT's min_hits 3."""

    match_iou: float = 0.2  # a strong detection continues a track when IoU x score reaches this
    low_match_iou: float = 0.5  # a weak detection continues a track seen last frame at this IoU
    tentative_iou: float = 0.3  # ... and a strong one continues a tentative track at this IoU x score
    low_score: float = 0.1  # detections from here up to the detector's threshold only continue tracks
    new_margin: float = 0.1  # a new track needs the detector's threshold + this
    confirm_hits: int = 3  # frames in a row before a track is announced (new) and may become the target...
    confirm_s: float = 0.25  # ... spanning at least this long (norfair's 7-frame delay at 30 fps, in seconds)
    lost_s: float = 1.0  # seconds unseen before a track ends
    target_labels: tuple[str, ...] = ("person",)  # labels the rig may follow; empty: any
    centre_weight: float = 0.5  # when picking a target: score - centre_weight * distance from the frame centre
    update_iou: float = 0.9  # an update event when the box moved so its IoU with the last reported one is below
    update_score: float = 0.1  # ... or the score changed by more than this
    update_min_s: float = 1.0  # ... and at most one update per track this often (frame time), as Frigate


    def check(self, problems: Problems) -> None:
        for name in ("match_iou", "low_match_iou", "tentative_iou"):
            value = getattr(self, name)
            problems.require(0.0 < value <= 1.0, name, f"must be in (0, 1], got {value}")
        problems.require(0.0 <= self.low_score <= 1.0, "low_score", f"must be between 0 and 1, got {self.low_score}")
        problems.require(0.0 <= self.new_margin <= 1.0, "new_margin", f"must be between 0 and 1, got {self.new_margin}")
        problems.require(1 <= self.confirm_hits <= 100, "confirm_hits",
                         f"must be from 1 to 100 frames, got {self.confirm_hits}")
        problems.require(0.0 <= self.confirm_s <= 60.0, "confirm_s", f"must be from 0 to 60 seconds, got {self.confirm_s}")
        problems.require(0.0 < self.lost_s <= 3600.0, "lost_s", f"must be in (0, 3600] seconds, got {self.lost_s}")
        problems.require(self.centre_weight >= 0.0, "centre_weight", f"must not be negative, got {self.centre_weight}")
        problems.require(0.0 <= self.update_iou <= 1.0, "update_iou", f"must be between 0 and 1, got {self.update_iou}")
        problems.require(self.update_min_s >= 0.0, "update_min_s", f"must not be negative, got {self.update_min_s}")


@dataclass(frozen=True, slots=True)
class TrackSnapshot:
    """A track as it was at one moment: what an event reports."""

    id: int
    label: str
    label_id: int
    score: float
    top_score: float
    box: BBox
    start_frame: int
    start_time: float
    last_frame: int
    frame_time: float
    end_time: float | None
    hits: int

    @property
    def active(self) -> bool:
        return self.end_time is None


@dataclass(eq=False)
class Track:
    id: int
    label: str
    label_id: int
    score: float
    box: BBox  # the last detection's box (shifted with the view), what the rig aims at
    start_frame: int
    start_time: float
    last_frame: int
    last_time: float
    motion: BoxMotion = field(repr=False)
    top_score: float = 0.0
    hits: int = 1
    missed: int = 0  # consecutive frames unseen
    end_time: float | None = None
    confirmed: bool = False
    _reported: TrackSnapshot | None = field(default=None, repr=False)
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
        return self.box.center

    @property
    def age_s(self) -> float:
        return self.last_time - self.start_time

    def snapshot(self) -> TrackSnapshot:
        return TrackSnapshot(self.id, self.label, self.label_id, self.score, self.top_score, self.box,
                             self.start_frame, self.start_time, self.last_frame, self.last_time, self.end_time,
                             self.hits)


@dataclass(frozen=True)
class TrackEvent:
    """``new`` (before is the same as after, as Frigate sends it), ``update`` or ``end``."""

    type: Literal["new", "update", "end"]
    before: TrackSnapshot
    after: TrackSnapshot

    @property
    def track_id(self) -> int:
        return self.after.id


@dataclass
class TrackerUpdate:
    tracks: list[Track]  # live tracks (tentative ones included), oldest first
    detections: list[Detection]  # this frame's strong detections and the weak ones that continued a
    # track, in input order; ``id`` is the confirmed track each continues (None: not, or not yet)
    events: list[TrackEvent]
    target: Track | None  # the track the rig should follow, if any
    target_seen: bool  # the target was matched in this frame: a fresh observation to act on
    target_changed: bool  # a different target (or none) from the previous frame

    @property
    def ids(self) -> list[int | None]:
        return [d.id for d in self.detections]


def iou_cost(tracks: Sequence[Track], boxes: Sequence[BBox], dets: Sequence[Detection], min_iou: float,
             fuse_score: bool, offset: tuple[float, float] = (0.0, 0.0)) -> list[list[float]]:
    """``1 - IoU`` (times the detection's score with ``fuse_score``, as ByteTrack) between each
    track's predicted box (moved by ``offset``) and each detection; FORBIDDEN across labels or
    under ``min_iou``."""
    ox, oy = offset
    cost = []
    for t, tb in zip(tracks, boxes):
        if ox or oy:
            tb = tb.translate(ox, oy)
        row = []
        for d in dets:
            if d.label_id != t.label_id:
                row.append(FORBIDDEN)
                continue
            similarity = iou(tb, d.box) * (d.score if fuse_score else 1.0)
            row.append(1.0 - similarity if similarity >= min_iou else FORBIDDEN)
        cost.append(row)
    return cost


class ObjectTracker:
    def __init__(self, config: TrackerConfig | None = None, high_score: float = 0.5):
        """``high_score``: the detector's threshold; weaker detections (down to ``config.low_score``)
        only continue tracks."""
        self.config = config = config or TrackerConfig()
        self.high_score = high_score
        self._targets = frozenset(label.casefold() for label in config.target_labels)
        self._tracks: list[Track] = []
        self._next_id = 1
        self._target: Track | None = None
        self._time: float | None = None

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
        self._time = None
        return events

    def update(self, detections: Sequence[Detection], frame: int = 0, time: float = 0.0,
               shift: tuple[float, float] = (0.0, 0.0)) -> TrackerUpdate:
        """One frame's detections at frame time ``time`` (seconds). ``shift``: how far the view moved
        the scene since the last frame (normalised; a pan/tilt rig knows it from its last step),
        applied to the tracks before matching, or a rig that re-centres a target would shift its
        box out of its own track."""
        self._predict(time, shift)
        cfg = self.config
        strong = [i for i, d in enumerate(detections) if d.score >= self.high_score]
        weak = [i for i, d in enumerate(detections) if cfg.low_score <= d.score < self.high_score]
        owner: dict[int, Track] = {}  # detection index -> the track it continues
        confirmed = [t for t in self._tracks if t.confirmed]
        was_seen = {id(t) for t in confirmed if t.missed == 0}
        seen = [t for t in confirmed if id(t) in was_seen]
        # Tracks seen last frame choose first, lost ones take what is left (DeepSORT's matching
        # cascade): a lost track's guessed position must not take a detection from one in plain view.
        self._associate(seen, strong, detections, owner, cfg.match_iou, True, shift)
        self._associate(seen, weak, detections, owner, cfg.low_match_iou, False)
        self._associate([t for t in confirmed if id(t) not in was_seen], strong, detections, owner,
                        cfg.match_iou, True, shift)
        self._associate([t for t in self._tracks if not t.confirmed], strong, detections, owner,
                        cfg.tentative_iou, True)
        events: list[TrackEvent] = []
        matched = set()
        for di, t in owner.items():
            matched.add(id(t))
            event = self._continue(t, detections[di], frame, time)
            if event is not None:
                events.append(event)
        self._retire(matched, time, events)
        for di in strong:
            if di not in owner and detections[di].score >= self.high_score + cfg.new_margin:
                owner[di] = self._start(detections[di], frame, time)
                if owner[di].confirmed:
                    events.append(self._announce(owner[di], time))
        return self._result(detections, strong, owner, events)

    # -- steps ------------------------------------------------------------------------------
    def _predict(self, time: float, shift: tuple[float, float]) -> None:
        dt = 0.0 if self._time is None else max(0.0, time - self._time)
        self._time = time
        dx, dy = shift
        for t in self._tracks:
            t.motion.predict(dt, seen=t.missed == 0)
            if dx or dy:
                t.motion.shift(dx, dy)
                t.box = t.box.translate(dx, dy)

    def _associate(self, tracks: list[Track], candidates: list[int], detections: Sequence[Detection],
                   owner: dict[int, Track], min_iou: float, fuse_score: bool,
                   shift: tuple[float, float] = (0.0, 0.0)) -> None:
        """Optimal matching of the still-free ``tracks`` and detections; with a view shift, what is
        left is tried again where the tracks were before it (the rig had not moved yet) and where a
        rig turning the other way puts them (an inverted axis: its runaway must stay one track for
        the controller to notice it)."""
        dx, dy = shift
        offsets = [(0.0, 0.0)] if not (dx or dy) else [(0.0, 0.0), (-dx, -dy), (-2 * dx, -2 * dy)]
        taken = {id(t) for t in owner.values()}
        for offset in offsets:
            free = [t for t in tracks if id(t) not in taken]
            dets = [i for i in candidates if i not in owner]
            if not free or not dets:
                return
            boxes = [t.motion.box for t in free]
            cost = iou_cost(free, boxes, [detections[i] for i in dets], min_iou, fuse_score, offset)
            for ti, di in assign(cost, 1.0):
                owner[dets[di]] = free[ti]
                taken.add(id(free[ti]))

    def _retire(self, matched: set[int], time: float, events: list[TrackEvent]) -> None:
        """Unmatched tracks miss a frame; a tentative one dies at once, a confirmed one after lost_s."""
        alive = []
        for t in self._tracks:
            if id(t) not in matched:
                t.missed += 1
                if not t.confirmed:
                    continue
                if time - t.last_time > self.config.lost_s:
                    events.append(self._end(t, time))
                    continue
            alive.append(t)
        self._tracks = alive

    def _result(self, detections: Sequence[Detection], strong: list[int], owner: dict[int, Track],
                events: list[TrackEvent]) -> TrackerUpdate:
        kept = sorted(set(strong) | set(owner))
        out = [replace(detections[i], id=owner[i].id if i in owner and owner[i].confirmed else None) for i in kept]
        previous = self._target
        target = self._pick_target()
        self._target = target
        return TrackerUpdate(
            tracks=list(self._tracks),
            detections=out,
            events=events,
            target=target,
            target_seen=target is not None and target.seen,
            target_changed=target is not previous,
        )

    # -- one track ---------------------------------------------------------------------------
    def _start(self, d: Detection, frame: int, time: float) -> Track:
        t = Track(self._next_id, d.label, d.label_id, d.score, d.box, frame, time, frame, time,
                  motion=BoxMotion(d.box), top_score=d.score)
        self._next_id += 1
        t.confirmed = self.config.confirm_hits <= 1 and self.config.confirm_s <= 0.0
        self._tracks.append(t)
        return t

    def _announce(self, t: Track, time: float) -> TrackEvent:
        t._reported, t._reported_at = t.snapshot(), time
        return TrackEvent("new", t._reported, t._reported)

    def _continue(self, t: Track, d: Detection, frame: int, time: float) -> TrackEvent | None:
        t.motion.correct(d.box)
        t.box, t.score = d.box, d.score
        t.top_score = max(t.top_score, d.score)
        t.last_frame, t.last_time = frame, time
        t.hits += 1
        t.missed = 0
        if not t.confirmed:
            if t.hits < self.config.confirm_hits or t.age_s < self.config.confirm_s - 1e-9:
                return None
            t.confirmed = True
            return self._announce(t, time)
        before = t._reported or t.snapshot()
        if time - t._reported_at < self.config.update_min_s:
            return None
        moved = before.box.iou(t.box) < self.config.update_iou
        rescored = abs(before.score - t.score) > self.config.update_score
        if not (moved or rescored):
            return None
        t._reported, t._reported_at = t.snapshot(), time
        return TrackEvent("update", before, t._reported)

    def _end(self, t: Track, time: float) -> TrackEvent:
        before = t._reported or t.snapshot()
        t.end_time = time
        return TrackEvent("end", before, t.snapshot())

    # -- the target --------------------------------------------------------------------------
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
