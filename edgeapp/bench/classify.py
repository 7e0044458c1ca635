"""``edgeapp bench classify``: what classification adds to each frame, next to the pose path.

The pose stage's keypoint filter is a row of its own (it runs once per person whatever consumes the pose), and
the report gives classification's share of the pose path both without and with it.

Every frame goes the service's way (the all-keypoints gate off; the body guard refuses only bodies that are
not there), so the figure is the cost of a classified frame.
"""

from __future__ import annotations

import time

import numpy as np

from edgeapp.bench import bench_frames, machine, print_table, show
from edgeapp.classify.classifier import OK, OTHER, PoseClassifier
from edgeapp.classify.hold import HoldTimer
from edgeapp.classify.stage import VideoClassifier
from edgeapp.classify.temporal import SmoothingConfig
from edgeapp.latency import summarize
from edgeapp.pose import MoveNet
from edgeapp.pose.smoothing import PoseSmoother


def bench_classify(estimator: MoveNet, classifier: PoseClassifier, source, frames: int = 200, warmup: int = 10) -> dict:
    """What the service pays per frame after the pose: the pose stage's One Euro keypoint filter (timed on
    its own: it is paid once per person and shared with repetition counting), then classification (body
    guard, features, the model, probability smoothing and the open-set rule: VideoClassifier), then the
    hold timer. Only frames the model classified are timed (a frame the body guard refuses costs less,
    and leaves the last invoke's time in place); the others are counted."""
    smoother = PoseSmoother()
    video = VideoClassifier(classifier, SmoothingConfig())
    tracker = HoldTimer()
    pose_t, filter_t, classify_t, invoke_t, hold_t = [], [], [], [], []
    refused = 0
    for frame, _decode_s, timed in bench_frames(source, frames, warmup):
        t0 = time.perf_counter()
        pose = estimator.estimate(frame.image)
        t1 = time.perf_counter()
        steady = smoother.pose(pose, frame.time)
        t2 = time.perf_counter()
        result = video.classify(steady, frame.time)
        t3 = time.perf_counter()
        tracker.update(result.label, frame.time)
        t4 = time.perf_counter()
        if timed and result.status not in (OK, OTHER):
            refused += 1
        elif timed:
            pose_t.append(t1 - t0)
            filter_t.append(t2 - t1)
            classify_t.append(t3 - t2)
            invoke_t.append(classifier.model.last_invoke_s)
            hold_t.append(t4 - t3)
    p, f, c, i, h = (summarize(x) for x in (pose_t, filter_t, classify_t, invoke_t, hold_t))
    both = summarize([a + b for a, b in zip(filter_t, classify_t)])
    return {
        "benchmark": "classify",
        "pose_model": estimator.model.path.name,
        "pose_backend": estimator.model.info.as_dict(),
        "classifier": classifier.model.path.name,
        "classifier_threads": classifier.model.info.threads,
        "source": source.name,
        "frames": len(pose_t),
        "frames_refused": refused,  # not timed: the body guard answered before the model ran
        "pose_path": p.as_dict(),
        "keypoint_filter": f.as_dict(4),
        "classify": c.as_dict(),
        "classify_invoke": i.as_dict(),
        "filter_and_classify": both.as_dict(),
        "hold_update": h.as_dict(4),
        "classify_pct_of_pose_p50": _percent(c, p),
        "filter_and_classify_pct_of_pose_p50": _percent(both, p),
        "machine": machine(),
    }


def _percent(part, whole) -> float | None:
    return round(100 * part.p50_ms / whole.p50_ms, 2) if whole.p50_ms else None


def print_report(r: dict, as_json: bool = False) -> None:
    b = r["pose_backend"]
    show(r, as_json, f"{r['classifier']} ({r['classifier_threads']} thread) after {r['pose_model']} on {b['backend']} "
                     f"({b['threads']} threads), {r['frames']} classified frames of {r['source']} "
                     f"({r['frames_refused']} refused by the body guard, not timed)", _table)


def _table(r: dict) -> None:
    def row(label, key, digits=3):
        return label, f"{r[key]['p50_ms']:.{digits}f}", f"{r[key]['p95_ms']:.{digits}f}"

    rows = [
        row("pose path (MoveNet, crop+prep+invoke+map)", "pose_path"),
        row("pose stage: One Euro keypoint filter (shared with reps)", "keypoint_filter", 4),
        row("classify (guard+features+invoke+probability smoothing+open set)", "classify"),
        row("  of which classifier invoke", "classify_invoke"),
        row("keypoint filter + classify", "filter_and_classify"),
        row("hold timer update", "hold_update", 4),
    ]
    print_table("", rows, ("stage", "p50 ms", "p95 ms"))
    print(f"classification costs {r['classify_pct_of_pose_p50']}% of the pose path (p50); with the keypoint filter "
          f"{r['filter_and_classify_pct_of_pose_p50']}%")


def shifted(image: np.ndarray, dx: float) -> np.ndarray:
    import cv2

    m = np.float32([[1, 0, dx], [0, 1, 0]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def bench_smoothing(estimator: MoveNet, image: np.ndarray, fps: float = 15.0, seconds: float = 4.0,
                    noise: float = 3.0, speed_px_s: float = 60.0, seed: int = 0) -> dict:
    """Keypoint jitter on a still person and the lag the One Euro filter adds on a moving one.

    Still: the same photo every frame with fresh sensor noise (Gaussian, ``noise`` grey levels),
    as a camera sees a person who does not move. Moving: the photo sliding sideways at
    ``speed_px_s``. Jitter is the mean frame-to-frame displacement of the confident joints
    (score >= 0.3), raw and filtered; lag is how far the filtered joints trail the raw ones,
    divided by the speed (seconds), after the first half second.
    """
    rng = np.random.default_rng(seed)
    n = int(fps * seconds)
    w, h = image.shape[1], image.shape[0]
    scale = np.array([w, h], dtype=np.float64)

    def run(frames):
        f = PoseSmoother()
        raw, out, conf = [], [], []
        estimator.reset()
        for i, img in enumerate(frames):
            pose = estimator.estimate(img)
            raw.append(pose.xy * scale)
            out.append(f.pose(pose, i / fps).xy * scale)
            conf.append(pose.scores >= 0.3)
        return np.stack(raw), np.stack(out), np.stack(conf)

    def noisy(img):
        return np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)

    raw, out, conf = run(noisy(image) for _ in range(n))
    keep = conf[1:] & conf[:-1]

    def jitter(a):
        return float(np.linalg.norm(np.diff(a, axis=0), axis=2)[keep].mean())

    mraw, mout, mconf = run(noisy(shifted(image, speed_px_s * i / fps)) for i in range(n))
    settle = int(0.5 * fps)
    trail = (mraw[settle:, :, 0] - mout[settle:, :, 0])[mconf[settle:]]
    return {
        "benchmark": "smoothing", "fps": fps, "frames": n, "noise_grey_levels": noise, "speed_px_s": speed_px_s,
        "still_jitter_px": {"raw": round(jitter(raw), 3), "filtered": round(jitter(out), 3)},
        "moving_lag_s": round(float(np.mean(trail)) / speed_px_s, 4),
        "moving_lag_px": round(float(np.mean(trail)), 2),
        "machine": machine(),
    }


def print_smoothing(r: dict, as_json: bool = False) -> None:
    def table(r):
        j = r["still_jitter_px"]
        print(f"still person ({r['frames']} frames at {r['fps']:g} fps, sensor noise {r['noise_grey_levels']:g}): "
              f"keypoint jitter {j['raw']:.3f} px/frame raw, {j['filtered']:.3f} px/frame filtered "
              f"({100 * (1 - j['filtered'] / j['raw']) if j['raw'] else 0:.0f}% less)")
        print(f"moving person ({r['speed_px_s']:g} px/s): the filter trails by {r['moving_lag_px']:.2f} px = "
              f"{1000 * r['moving_lag_s']:.1f} ms")

    show(r, as_json, "One Euro keypoint filter (TF.js MoveNet constants)", table)
