"""Score MOTChallenge hypothesis files with py-motmetrics, the reference for edgeapp.evaluation.tracking.

Run in a venv with motmetrics (it needs pandas, scipy and numpy < 2, so not in edgeapp's own profiles):
    python tools/motmetrics_reference.py GT.txt HYP.txt [HYP.txt ...]
prints one JSON line per hypothesis file with the figures tests/detect/test_evaluation.py compares.
"""

import json
import sys

import motmetrics as mm
import numpy as np


def load(path):
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    frames = {}
    for r in rows:
        frames.setdefault(int(r[0]), []).append((int(r[1]), r[2:6]))
    return frames


def score(gt_path, hyp_path):
    gt, hyp = load(gt_path), load(hyp_path)
    acc = mm.MOTAccumulator(auto_id=False)
    for f in sorted(set(gt) | set(hyp)):
        g, h = gt.get(f, []), hyp.get(f, [])
        dist = mm.distances.iou_matrix([b for _, b in g], [b for _, b in h], max_iou=0.5)
        acc.update([i for i, _ in g], [i for i, _ in h], dist, frameid=f)
    m = mm.metrics.create().compute(acc, metrics=["idf1", "mota", "num_switches", "num_misses",
                                                  "num_false_positives", "idtp", "num_unique_objects"], name="x")
    return {k: (round(float(v), 6) if "idf1" in k or "mota" in k else int(v)) for k, v in m.iloc[0].items()}


if __name__ == "__main__":
    for hyp_path in sys.argv[2:]:
        print(json.dumps({"hyp": hyp_path, **score(sys.argv[1], hyp_path)}))
