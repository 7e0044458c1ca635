"""The standard multi-object tracking metrics: CLEAR MOT (MOTA, id switches) and IDF1.

Written here because py-motmetrics 1.4 (the reference implementation) needs pandas
and scipy, neither of which is in the device's install, and does not work with
numpy 2. The definitions are motmetrics' (and the MOTChallenge devkit's), and the
tests compare the figures with motmetrics' own on real sequences:

* per frame, a ground-truth object and a hypothesis may match when their IoU is at
  least ``min_iou`` (0.5); last frame's pairs are kept while they still may, the
  rest is matched optimally by distance ``1 - IoU``;
* an id switch is a ground-truth object matched to another hypothesis id than the
  one it was last matched to (``SWITCH`` in motmetrics);
* MOTA = 1 - (misses + false positives + switches) / ground-truth boxes;
* IDF1 = 2 IDTP / (ground-truth boxes + hypothesis boxes), IDTP being the most
  frames that a one-to-one map of ground-truth ids to hypothesis ids can get right.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from edgeapp.detect.assign import assign, min_cost_assignment
from edgeapp.detect.detection import iou
from edgeapp.evaluation.motfile import MotBox

FORBIDDEN = float("inf")


@dataclass
class TrackingScores:
    frames: int
    gt_boxes: int
    hyp_boxes: int
    matches: int
    misses: int
    false_positives: int
    id_switches: int
    idtp: int
    gt_ids: int
    hyp_ids: int
    ids_per_gt: dict[int, int] = field(default_factory=dict)  # how many hypothesis ids each person was given

    @property
    def mota(self) -> float:
        return 1.0 - (self.misses + self.false_positives + self.id_switches) / self.gt_boxes if self.gt_boxes else 0.0

    @property
    def idf1(self) -> float:
        total = self.gt_boxes + self.hyp_boxes
        return 2.0 * self.idtp / total if total else 0.0

    @property
    def idp(self) -> float:
        return self.idtp / self.hyp_boxes if self.hyp_boxes else 0.0

    @property
    def idr(self) -> float:
        return self.idtp / self.gt_boxes if self.gt_boxes else 0.0

    @property
    def mean_ids_per_gt(self) -> float:
        return sum(self.ids_per_gt.values()) / len(self.ids_per_gt) if self.ids_per_gt else 0.0


def frame_matches(gt: Sequence[MotBox], hyp: Sequence[MotBox], keep: Mapping[int, int],
                  min_iou: float) -> list[tuple[int, int]]:
    """``(gt index, hyp index)`` pairs of one frame; ``keep`` maps gt id -> its last hyp id."""
    overlap = [[iou(g.box, h.box) for h in hyp] for g in gt]
    pairs: list[tuple[int, int]] = []
    hyp_index = {h.id: j for j, h in enumerate(hyp)}
    used_h: set[int] = set()
    for i, g in enumerate(gt):
        j = hyp_index.get(keep.get(g.id, None), None) if g.id in keep else None
        if j is not None and j not in used_h and overlap[i][j] >= min_iou:
            pairs.append((i, j))
            used_h.add(j)
    used_g = {i for i, _ in pairs}
    rows = [i for i in range(len(gt)) if i not in used_g]
    cols = [j for j in range(len(hyp)) if j not in used_h]
    cost = [[1.0 - overlap[i][j] if overlap[i][j] >= min_iou else FORBIDDEN for j in cols] for i in rows]
    pairs += [(rows[a], cols[b]) for a, b in assign(cost, 1.0 - min_iou)]
    return pairs


def evaluate(gt: Mapping[int, Sequence[MotBox]], hyp: Mapping[int, Sequence[MotBox]],
             min_iou: float = 0.5) -> TrackingScores:
    """Scores of hypothesis tracks against ground truth, both as frame -> boxes (ids in ``MotBox.id``)."""
    frames = sorted(set(gt) | set(hyp))
    last: dict[int, int] = {}  # gt id -> the hyp id it was last matched to
    pair_frames: Counter[tuple[int, int]] = Counter()  # (gt id, hyp id) -> frames where they may match
    given: dict[int, set[int]] = defaultdict(set)
    matches = switches = gt_boxes = hyp_boxes = 0
    gt_count: Counter[int] = Counter()
    hyp_count: Counter[int] = Counter()
    for f in frames:
        g, h = gt.get(f, ()), hyp.get(f, ())
        gt_boxes += len(g)
        hyp_boxes += len(h)
        gt_count.update(b.id for b in g)
        hyp_count.update(b.id for b in h)
        for i, j in frame_matches(g, h, last, min_iou):
            gid, hid = g[i].id, h[j].id
            if gid in last and last[gid] != hid:
                switches += 1
            last[gid] = hid
            given[gid].add(hid)
            matches += 1
        for a in g:
            for b in h:
                if iou(a.box, b.box) >= min_iou:
                    pair_frames[(a.id, b.id)] += 1
    return TrackingScores(
        frames=len(frames), gt_boxes=gt_boxes, hyp_boxes=hyp_boxes, matches=matches,
        misses=gt_boxes - matches, false_positives=hyp_boxes - matches, id_switches=switches,
        idtp=identity_true_positives(pair_frames, list(gt_count), list(hyp_count)),
        gt_ids=len(gt_count), hyp_ids=len(hyp_count),
        ids_per_gt={gid: len(given.get(gid, ())) for gid in sorted(gt_count)},
    )


def identity_true_positives(pair_frames: Mapping[tuple[int, int], int], gt_ids: list[int],
                            hyp_ids: list[int]) -> int:
    """The most co-occurring frames a one-to-one map of gt ids to hyp ids can collect."""
    if not gt_ids or not hyp_ids:
        return 0
    cost = [[-float(pair_frames.get((g, h), 0)) for h in hyp_ids] for g in gt_ids]
    return int(round(-sum(cost[i][j] for i, j in min_cost_assignment(cost))))


def report(s: TrackingScores) -> str:
    per = " ".join(f"{k}:{v}" for k, v in s.ids_per_gt.items())
    return "\n".join([
        f"IDF1 {s.idf1:.3f} (IDP {s.idp:.3f}, IDR {s.idr:.3f})",
        f"MOTA {s.mota:.3f} (misses {s.misses}, false positives {s.false_positives} of {s.gt_boxes} boxes)",
        f"id switches {s.id_switches}",
        f"ids {s.hyp_ids} for {s.gt_ids} people; ids per person {s.mean_ids_per_gt:.2f} ({per})",
    ])

