"""``edgeapp eval track``: the tracker's identities against MOTChallenge ground truth."""

from __future__ import annotations

import argparse
import configparser
import json
from pathlib import Path
from typing import Iterable, Iterator

from edgeapp.camera import Frame, open_source
from edgeapp.cli import usage_error
from edgeapp.cli.common import whole_number
from edgeapp.cli.detect import _detect_options, detect_config, open_detector, tracked_frames
from edgeapp.detect.detection import Detection
from edgeapp.detect.tracker import ObjectTracker, TrackerUpdate
from edgeapp.evaluation.motfile import MotBox, read_mot
from edgeapp.evaluation.tracking import TrackingScores, evaluate, report

DEFAULT_FPS = 25.0  # MOTChallenge's most common rate, when a folder says nothing (seqinfo.ini) and --fps is not given


def register(cli) -> None:
    p = cli.add("eval", "track", "track people on a video or a folder of frames and score the identities "
                                 "against MOTChallenge ground truth (IDF1, MOTA, id switches)")
    p.add_argument("path", help="a video, or a folder of frames read in name order as one sequence")
    p.add_argument("--gt", required=True,
                   help="ground truth, MOTChallenge gt.txt (frame,id,x,y,w,h,...; frames from 1)")
    p.add_argument("--det", default=None,
                   help="track these detections (MOTChallenge det.txt) instead of running the detector")
    p.add_argument("--fps", type=float, default=None,
                   help=f"frame rate of a folder (default: its seqinfo.ini, else {DEFAULT_FPS:g})")
    p.add_argument("--stride", type=stride, default=1,
                   help="use every Nth frame only, 1 to 100 (a camera at 1/N of the rate; ground truth thinned "
                        "alike)")
    p.add_argument("--out", default=None, help="also write the tracks as a MOTChallenge file")
    p.add_argument("--save-det", default=None,
                   help="also write the detector's detections (down to the tracker's floor) as a det.txt, "
                        "to run another tracker on the same detections")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    _detect_options(p)
    p.set_defaults(func=run_eval_track)

    s = cli.add("eval", "score", "score a tracker's MOTChallenge output file (another tracker's, to compare) "
                                 "against ground truth, as eval track scores edgeapp's")
    s.add_argument("gt", help="ground truth, MOTChallenge gt.txt")
    s.add_argument("hyp", help="the tracks, MOTChallenge format (frame,id,x,y,w,h,...)")
    s.add_argument("--stride", type=stride, default=1, help="only frames 1, 1 + N, ... of the ground truth "
                   "(1 to 100)")
    s.add_argument("--json", action="store_true", help="print the scores as JSON")
    s.set_defaults(func=run_eval_score)


stride = whole_number(1, 100)  # --stride


def ground_truth(path: str, stride: int) -> dict[int, list[MotBox]]:
    """The ground truth of frames 1, 1 + stride, ... (the frames a camera at 1/stride of the rate sees)."""
    return {f: boxes for f, boxes in read_mot(path).items() if (f - 1) % stride == 0}


def run_eval_track(args: argparse.Namespace) -> int:
    if args.fps is not None and not 0.0 < args.fps <= 1000.0:
        return usage_error(f"--fps must be in (0, 1000], got {args.fps}")
    if args.labels_allow is None:
        args.labels_allow = "person"  # MOTChallenge ground truth is pedestrians
    gt = ground_truth(args.gt, args.stride)
    source = Thinned(open_source(args.path, sequence_fps=args.fps or sequence_fps(Path(args.path))), args.stride)
    try:
        if args.det:
            config = detect_config(args)
            tracker = ObjectTracker(config.tracker, high_score=config.threshold)
            hyp = hypotheses(tracked_public(tracker, source, read_mot(args.det, ignored=False)))
        else:
            saved: dict[int, list[MotBox]] | None = {} if args.save_det else None
            hyp = hypotheses(tracked_frames(open_detector(args), source, saved))
            if saved is not None:
                write_mot(saved, Path(args.save_det))
    finally:
        source.close()
    if args.out:
        write_mot(hyp, Path(args.out))
    scores = evaluate(gt, hyp)
    print(json.dumps(scores_json(scores)) if args.json else report(scores))
    return 0


class Thinned:
    """Every ``stride``-th frame of a source (indexes and times kept: the frames a slower camera sees)."""

    def __init__(self, source, stride: int):
        self.source, self.stride, self.still = source, stride, source.still

    def frames(self) -> Iterator[Frame]:
        return (f for f in self.source.frames() if f.index % self.stride == 0)

    def close(self) -> None:
        self.source.close()


def run_eval_score(args: argparse.Namespace) -> int:
    scores = evaluate(ground_truth(args.gt, args.stride), read_mot(args.hyp, ignored=False))
    print(json.dumps(scores_json(scores)) if args.json else report(scores))
    return 0


def sequence_fps(path: Path) -> float | None:
    """A folder's frame rate: MOTChallenge's ``seqinfo.ini`` beside or above it, else the default."""
    if not path.is_dir():
        return None
    for ini in (path / "seqinfo.ini", path.parent / "seqinfo.ini"):
        if ini.is_file():
            info = configparser.ConfigParser()
            info.read(ini)
            rate = info.get("Sequence", "frameRate", fallback=None)
            if rate:
                return float(rate)
    return DEFAULT_FPS


def tracked_public(tracker: ObjectTracker, source, public: dict[int, list[MotBox]]
                   ) -> Iterator[tuple[Frame, TrackerUpdate]]:
    """Detections from a file, tracked as the detector's would be. Scores from 0 to 1 are taken as
    they are (e.g. a file from --save-det); the benchmark's public detections score on their own
    detector's scale and are already thresholded, so each of those counts as strong."""
    scored = all(0.0 <= b.score <= 1.0 for boxes in public.values() for b in boxes)
    for frame in source.frames():
        w, h = frame.size
        dets = [Detection("person", 0, b.score if scored else 1.0, b.box.scale(1.0 / w, 1.0 / h))
                for b in public.get(frame.index + 1, ())]
        yield frame, tracker.update(dets, frame.index, frame.time)


def hypotheses(tracked: Iterable[tuple[Frame, TrackerUpdate]]) -> dict[int, list[MotBox]]:
    """Confirmed tracks' boxes per MOTChallenge frame (1-based), in pixels."""
    hyp: dict[int, list[MotBox]] = {}
    for frame, update in tracked:
        w, h = frame.size
        hyp[frame.index + 1] = [MotBox(d.id, d.box.scale(w, h), d.score) for d in update.detections
                                if d.id is not None]
    return hyp


def write_mot(hyp: dict[int, list[MotBox]], path: Path) -> None:
    with path.open("w") as f:
        for frame in sorted(hyp):
            for b in hyp[frame]:
                x0, y0, x1, y1 = b.box
                f.write(f"{frame},{-1 if b.id is None else b.id},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},"
                        f"{b.score:.4f},-1,-1,-1\n")


def scores_json(s: TrackingScores) -> dict:
    return {"idf1": round(s.idf1, 4), "idp": round(s.idp, 4), "idr": round(s.idr, 4), "mota": round(s.mota, 4),
            "id_switches": s.id_switches, "misses": s.misses, "false_positives": s.false_positives,
            "gt_boxes": s.gt_boxes, "frames": s.frames, "gt_ids": s.gt_ids, "hyp_ids": s.hyp_ids,
            "ids_per_gt": {str(k): v for k, v in s.ids_per_gt.items()},
            "mean_ids_per_gt": round(s.mean_ids_per_gt, 2)}
