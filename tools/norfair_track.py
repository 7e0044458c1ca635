"""Track a MOTChallenge det.txt with norfair, for comparing edgeapp's tracker on the same detections.

norfair (the tracker Frigate uses) is not an edgeapp dependency; run this in a venv that has it:
    python tools/norfair_track.py DET.txt OUT.txt [--min-score 0.5]
then score OUT.txt (it holds the ids) with tools/motmetrics_reference.py, or with edgeapp's own metrics:
    edgeapp eval score GT.txt OUT.txt [--stride N]

Settings are norfair's own bounding-box defaults (its YOLO demos): IoU distance, distance_threshold
0.7, hit_counter_max 15, initialization_delay hit_counter_max / 2; nothing is tuned to a sequence.
Each frame reports the tracked objects matched in that frame, with the matched detection's box
(as edgeapp reports its tracks), so the two are compared box for box.
"""

import argparse

import numpy as np
from norfair import Detection, Tracker


def main():
    p = argparse.ArgumentParser()
    p.add_argument("det")
    p.add_argument("out")
    p.add_argument("--min-score", type=float, default=0.5, help="the detector's threshold (edgeapp's default 0.5)")
    p.add_argument("--stride", type=int, default=1, help="the frames seen: 1, 1 + stride, ... (as edgeapp eval track --stride)")
    args = p.parse_args()
    rows = np.loadtxt(args.det, delimiter=",", ndmin=2)
    frames = {}
    for r in rows:
        if r[6] >= args.min_score:
            frames.setdefault(int(r[0]), []).append(r)
    tracker = Tracker(distance_function="iou", distance_threshold=0.7)
    with open(args.out, "w") as out:
        for f in range(1, int(rows[:, 0].max()) + 1, args.stride):
            dets = [Detection(points=np.array([[r[2], r[3]], [r[2] + r[4], r[3] + r[5]]]),
                              scores=np.array([r[6], r[6]])) for r in frames.get(f, [])]
            for obj in tracker.update(detections=dets):
                d = obj.last_detection
                if d is None or not any(d is det for det in dets):
                    continue
                (x0, y0), (x1, y1) = d.points
                out.write(f"{f},{obj.id},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},{d.scores[0]:.4f},-1,-1,-1\n")


if __name__ == "__main__":
    main()
