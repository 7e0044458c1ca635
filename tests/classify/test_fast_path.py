"""The per-frame classification path (the pose stage's One Euro filter, preallocated buffers, one [17, 3] joint
array, Python floats for the decision) gives exactly what the straightforward code gives: the One Euro filter, the
body guard, the features, the probability average and the open-set decision written out plainly below, on random
poses with the real models (gaps in time, repeated frames, nobody, collapsed bodies, weak joints)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from support.shared import CLASSIFIER, CLASSIFIER_LABELS, REPO
from edgeapp.classify.body import DEGENERATE_POSE, NO_CONFIDENT_POSE, NO_POSE, BodyGuard
from edgeapp.classify.classifier import OK, OTHER, Classification, PoseClassifier
from edgeapp.classify.stage import VideoClassifier
from edgeapp.classify.temporal import SmoothingConfig
from edgeapp.pose.keypoint import Pose
from edgeapp.pose.smoothing import PoseSmoother, PoseSmoothingConfig

from .helpers import cpu

SHIPPED = REPO / "models" / "yoga-lightning" / "classifier.tflite"


class PlainOneEuro:
    """One Euro over the 51 values of a pose, one numpy expression per step of the paper."""

    def __init__(self, c):
        self.c = c
        self.min_cutoff = np.r_[np.full(34, c.min_cutoff_hz), np.full(17, c.score_min_cutoff_hz)]
        self.beta = np.r_[np.full(34, c.beta), np.full(17, c.score_beta)]
        self.value = self.derivative = self.time = None

    def pose(self, pose, t):
        if pose is None:
            self.value = self.derivative = self.time = None
            return None
        x = np.concatenate((pose.xy.ravel(), pose.scores)).astype(np.float64)
        dt = None if self.time is None else t - self.time
        if not (dt == 0.0 and self.value is not None):
            if dt is None or not 0.0 < dt <= self.c.max_gap_s:
                self.value, self.derivative = x.copy(), np.zeros_like(x)
            else:
                def alpha(cutoff):
                    r = (2.0 * math.pi * dt) * cutoff
                    return r / (r + 1.0)
                self.derivative = self.derivative + alpha(self.c.derivate_cutoff_hz) * ((x - self.value) / dt - self.derivative)
                cutoff = self.min_cutoff + self.beta * np.abs(self.derivative)
                self.value = self.value + alpha(cutoff) * (x - self.value)
            self.time = t
        v = self.value
        return Pose(v[:34].reshape(17, 2).astype(pose.xy.dtype), np.clip(v[34:], 0, 1).astype(pose.scores.dtype),
                    pose.frame_size)


def plain_status(pose: Pose, g: BodyGuard, threshold: float) -> str | None:
    xy = pose.xy
    w, h = pose.frame_size
    if not np.isfinite(xy).all():
        return DEGENERATE_POSE
    span = xy.max(axis=0) - xy.min(axis=0)
    if max(float(span[0]) * w, float(span[1]) * h) < g.min_extent_px:
        return DEGENERATE_POSE
    torso = 0.5 * (xy[5] + xy[6] - xy[11] - xy[12]) * (w, h)
    if math.hypot(float(torso[0]), float(torso[1])) < g.min_torso_px:
        return DEGENERATE_POSE
    seen = pose.scores >= g.joint_score
    if seen.sum() < min(3, g.min_joints):
        return NO_POSE
    if seen[[5, 6, 11, 12]].sum() < g.min_torso_joints or seen.sum() < g.min_joints:
        return NO_CONFIDENT_POSE
    return NO_CONFIDENT_POSE if pose.scores.min() < threshold else None


def plain_features(pose: Pose, contract) -> np.ndarray:
    xy = pose.pixels if contract.units == "pixels" else pose.xy
    if contract.order == "yx":
        xy = xy[:, ::-1]
    return np.column_stack((xy, pose.scores)).astype(np.float32).reshape(1, 51)


def plain_decision(clf: PoseClassifier, probs: np.ndarray, min_score: float) -> Classification:
    if not np.isfinite(probs).all():
        return Classification(None, 0.0, (), DEGENERATE_POSE, min_score)
    order = np.argsort(-probs, kind="stable")
    top = tuple((clf.labels[i], float(probs[i])) for i in order[:clf.top_k])
    c = clf.contract
    if clf.other_index is None:
        best, score = int(order[0]), float(probs[order[0]])
    else:
        poses = probs.copy()
        poses[clf.other_index] = -1.0
        best = int(np.argmax(poses))
        p_other = float(probs[clf.other_index])
        if (p_other > c.other_threshold) if c.other_threshold is not None else (p_other > probs[best]):
            return Classification(None, p_other, top, OTHER, min_score)
        score = float(probs[best]) / max(1.0 - p_other, 1e-9)
    if score < c.min_probability:
        return Classification(None, score, top, OTHER, min_score)
    return Classification(clf.labels[best], score, top, OK, min_score)


def plain_answers(clf: PoseClassifier, smoothing: SmoothingConfig | None, frames) -> list[Classification]:
    one_euro = PlainOneEuro(PoseSmoothingConfig().one_euro()) if smoothing else None
    p_avg, p_time, out = None, None, []
    for pose, t in frames:
        if one_euro is not None:
            pose = one_euro.pose(pose, t)
        status = NO_POSE if pose is None else plain_status(pose, clf.guard, clf.threshold)
        if status is not None:
            p_avg = None
            out.append(Classification(None, 0.0, (), status, 0.0 if pose is None else float(pose.scores.min())))
            continue
        probs = clf.probabilities(plain_features(pose, clf.contract)).astype(np.float64)
        if smoothing:
            dt = None if p_time is None else t - p_time
            if p_avg is None or dt is None or not 0.0 <= dt <= smoothing.max_gap_s:
                p_avg = probs
            else:
                p_avg = p_avg + (1.0 - math.exp(-dt / smoothing.probability_tau_s)) * (probs - p_avg)
            p_time, probs = t, p_avg
        out.append(plain_decision(clf, probs, float(pose.scores.min())))
    return out


def random_frames(seed: int, n: int = 240) -> list[tuple[Pose | None, float]]:
    """A person moving about at 15 fps, with what a camera gives: nobody for a while, a frame twice,
    gaps, a body collapsed to a point, weak joints, and the odd bad coordinate."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.8, size=(17, 2))
    frames, t = [], 0.0
    for i in range(n):
        t += rng.choice([1 / 15, 1 / 15, 1 / 15, 0.0, 0.8])
        base = np.clip(base + rng.normal(0, 0.01, size=(17, 2)), 0, 1)
        xy = base + rng.normal(0, 0.003, size=(17, 2))
        scores = rng.uniform(0, 1, size=17) ** rng.choice([0.3, 1.0, 3.0])
        kind = rng.integers(20)
        if kind == 0:
            frames.append((None, t))
            continue
        if kind == 1:
            xy = np.full((17, 2), xy[0])  # collapsed
        if kind == 2:
            xy[rng.integers(17), rng.integers(2)] = np.nan
        frames.append((Pose(xy, scores, (640, 480)), t))
    return frames


@pytest.mark.parametrize("model", ["stock", "shipped"])
@pytest.mark.parametrize("smoothing", [True, False])
@pytest.mark.parametrize("threshold", [0.0, 0.1])
def test_the_frame_path_answers_as_the_plain_code(model, smoothing, threshold):
    if model == "stock":
        clf = PoseClassifier.open(CLASSIFIER, CLASSIFIER_LABELS, cpu(), threshold=threshold, top_k=2)
    else:
        clf = PoseClassifier.open(SHIPPED, request=cpu(), threshold=threshold)
    config = SmoothingConfig() if smoothing else None
    for seed in range(3):
        frames = random_frames(seed)
        video = VideoClassifier(clf, config)
        steady = PoseSmoother(PoseSmoothingConfig(enabled=smoothing))  # the pose stage's filter, as the service's
        fast = [video.classify(steady.pose(pose, t), t) for pose, t in frames]
        plain = plain_answers(clf, config, frames)
        assert fast == plain
        assert len({c.status for c in fast}) >= 3  # the frames reach more than one branch
        if not smoothing:
            assert [clf.classify(pose) for pose, _ in frames] == plain


def plain_lowest(scores: np.ndarray) -> float:
    return float(np.min(scores))  # NaN when one is NaN


@pytest.mark.parametrize("joint_score", [0.0, 0.1, 1.0])
def test_the_guard_on_python_floats_answers_as_numpy_on_odd_values(joint_score):
    """The guard works on the joints' 51 Python floats; on
    NaN and infinite coordinates and scores, sums that overflow, ties and joints on the threshold it
    gives numpy's answer: the status and the lowest score (NaN when a score is NaN)."""
    g = BodyGuard(joint_score=joint_score)
    rng = np.random.default_rng(7)
    odd = [np.nan, np.inf, -np.inf, 1e308, -1e308, joint_score, 0.0, -0.0, 1.0]
    statuses = set()
    for i in range(3000):
        xy = rng.uniform(0.2, 0.8, size=(17, 2))
        scores = rng.uniform(0, 1, size=17) ** rng.choice([0.3, 1.0, 3.0, 12.0])  # 12: few joints seen
        if i % 5 == 0:
            scores[[5, 6, 11, 12]] *= 0.1  # a torso hardly seen
        for _ in range(rng.integers(0, 3)):
            target = xy if rng.integers(2) else scores
            target.flat[rng.integers(target.size)] = rng.choice(odd)
        if i % 7 == 0:
            xy[:] = xy[0]  # collapsed
        pose = Pose(xy, scores, (640, 480))
        joints = np.column_stack((xy, scores))
        status, low = g.check(joints.ravel().tolist(), pose.frame_size)
        with np.errstate(over="ignore", invalid="ignore"):  # numpy's inf - inf and 1e308 * 640
            want = plain_status(pose, g, -math.inf)  # the guard alone, no all-keypoints gate
        assert status == want, (i, xy, scores)
        assert low == plain_lowest(scores) or (math.isnan(low) and math.isnan(plain_lowest(scores)))
        statuses.add(status)
    assert len(statuses) == (4 if joint_score == 0.1 else 2)  # at 0 nearly every joint is seen, at 1 nearly none
