"""Synthetic training poses: the five yoga poses as 3D skeletons, seen by a camera from anywhere.

The yoga_poses photos show each person from one kind of camera position (level with the body, from
above at an angle, straight from above), and a network trained on four people's views does not name
the fifth person's (docs/classification.md: 53-62% for the two people seen from above). Mirroring,
rotating and squashing 2D keypoints does not make a new view; a skeleton in 3D does. Each template is
the pose as yoga defines it, with its joint angles drawn at random over the range a person goes
through entering and holding it; a pinhole camera at a random azimuth (all round), elevation (from
just below the hips to straight above), distance and roll projects it to pixels. The rows join the
fitting rows of a training (``TrainConfig.synthetic``), never the validation or a held-out person.

Pure numpy. Body proportions: Drillis & Contini segment lengths as shares of the height H = 1.
World axes: y up; the body faces +z before the camera turns; +x is the person's left.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgeapp.classify.contract import OTHER
from edgeapp.classify.dataset import KeypointTable
from edgeapp.errors import ClassifyError

(NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST,
 L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE) = range(17)
UP, FORWARD, LEFT = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
HIP_HALF, SHOULDER_HALF, TORSO = 0.0955, 0.1295, 0.288  # half the hip / shoulder width; shoulder to hip
UPPER_ARM, FOREARM, THIGH, SHANK = 0.186, 0.146, 0.245, 0.246
# (shoulder or hip, elbow or knee, wrist or ankle, +1 on the left side or -1 on the right), left first
ARMS = ((L_SHOULDER, L_ELBOW, L_WRIST, 1.0), (R_SHOULDER, R_ELBOW, R_WRIST, -1.0))
LEGS = ((L_HIP, L_KNEE, L_ANKLE, 1.0), (R_HIP, R_KNEE, R_ANKLE, -1.0))
SCORES = (0.3, 0.9)  # every joint seen; the augmentation (joint dropout) hides some


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def turned(angle: np.ndarray, start: np.ndarray, towards: np.ndarray) -> np.ndarray:
    """``[n, 3]``: the direction ``start`` turned by ``angle`` (radians, one per pose) towards ``towards``."""
    return np.cos(angle)[:, None] * start + np.sin(angle)[:, None] * towards


def blend(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (1 - t)[:, None] * a + t[:, None] * b


def degrees(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.deg2rad(rng.uniform(low, high, n))


def limb(start: np.ndarray, end: np.ndarray, towards: np.ndarray, first: float,
         second: float) -> tuple[np.ndarray, np.ndarray]:
    """(elbow or knee, wrist or ankle) of a limb from ``start`` to ``end`` with bones ``first`` and ``second``
    long, bent towards ``towards``; an ``end`` out of reach is taken in along the straight limb."""
    span = end - start
    d = np.clip(np.linalg.norm(span, axis=-1), 1e-6, first + second)
    axis = unit(span)
    along = (first ** 2 - second ** 2 + d ** 2) / (2 * d)
    across = np.sqrt(np.maximum(first ** 2 - along ** 2, 0.0))
    side = unit(towards - np.sum(towards * axis, axis=-1, keepdims=True) * axis + 1e-9 * UP)
    middle = start + along[:, None] * axis + across[:, None] * side
    return middle, start + d[:, None] * axis


def trunk(p: np.ndarray, hips: np.ndarray, torso: np.ndarray) -> np.ndarray:
    """Hips level about ``hips``, shoulders level about the end of the torso; the shoulder midpoint."""
    p[:, L_HIP], p[:, R_HIP] = hips + HIP_HALF * LEFT, hips - HIP_HALF * LEFT
    shoulders = hips + TORSO * torso
    p[:, L_SHOULDER], p[:, R_SHOULDER] = shoulders + SHOULDER_HALF * LEFT, shoulders - SHOULDER_HALF * LEFT
    return shoulders


def head(p: np.ndarray, shoulders: np.ndarray, face: np.ndarray, crown: np.ndarray) -> None:
    """Nose, eyes and ears above the shoulder midpoint, the face looking along ``face``, the crown along ``crown``."""
    p[:, NOSE] = shoulders + 0.11 * crown + 0.05 * face
    left = unit(np.cross(crown, face))
    for eye, ear, side in ((L_EYE, L_EAR, 1.0), (R_EYE, R_EAR, -1.0)):
        p[:, eye] = p[:, NOSE] + 0.03 * crown + side * 0.03 * left - 0.01 * face
        p[:, ear] = p[:, NOSE] + 0.02 * crown + side * 0.07 * left - 0.07 * face


def one_leg(p: np.ndarray, rng: np.random.Generator, standing: Callable, lifted: Callable) -> None:
    """Fill the knees and ankles of a pose on one leg, on a random side: ``standing(hip)`` and ``lifted(hip,
    knee of the standing leg, outward direction)`` each give (knee, ankle)."""
    n = len(p)
    left_lifted = rng.random(n) < 0.5
    stand_hip = np.where(left_lifted[:, None], p[:, R_HIP], p[:, L_HIP])
    lift_hip = np.where(left_lifted[:, None], p[:, L_HIP], p[:, R_HIP])
    outward = np.where(left_lifted[:, None], LEFT, -LEFT)
    stand_knee, stand_ankle = standing(stand_hip)
    lift_knee, lift_ankle = lifted(lift_hip, stand_knee, outward)
    m = left_lifted[:, None]
    p[:, L_KNEE], p[:, R_KNEE] = np.where(m, lift_knee, stand_knee), np.where(m, stand_knee, lift_knee)
    p[:, L_ANKLE], p[:, R_ANKLE] = np.where(m, lift_ankle, stand_ankle), np.where(m, stand_ankle, lift_ankle)


def tree(rng: np.random.Generator, n: int) -> np.ndarray:
    """Vrksasana: on one straight leg, the other knee out to the side, its foot on the standing leg from the calf
    to the thigh; hands from prayer at the chest to joined overhead."""
    p = np.zeros((n, 17, 3))
    shoulders = trunk(p, np.tile([0.0, 1.0, 0.0], (n, 1)), unit(UP + 0.05 * rng.normal(size=(n, 3))))

    def standing(hip):
        knee = hip - THIGH * UP
        return knee, knee - SHANK * UP

    def lifted(hip, stand_knee, outward):
        foot = stand_knee + rng.uniform(-0.12, 0.2, n)[:, None] * UP + 0.05 * outward
        out = turned(degrees(rng, 35, 80, n), -UP, outward) + rng.uniform(-0.1, 0.4, n)[:, None] * FORWARD
        return limb(hip, foot, out, THIGH, SHANK)

    one_leg(p, rng, standing, lifted)
    overhead = rng.random(n)
    for shoulder, elbow, wrist, side in ARMS:
        hands = blend(overhead, shoulders - 0.1 * UP + 0.12 * FORWARD, shoulders + 0.42 * UP + 0.03 * FORWARD)
        p[:, elbow], p[:, wrist] = limb(p[:, shoulder], hands, blend(overhead, side * LEFT - UP, side * LEFT + UP),
                                        UPPER_ARM, FOREARM)
    head(p, shoulders, FORWARD, UP)
    return p


def chair(rng: np.random.Generator, n: int) -> np.ndarray:
    """Utkatasana: knees bent forward over the feet, the torso leaning forward, the arms raised along it."""
    p = np.zeros((n, 17, 3))
    thigh, shank, lean = degrees(rng, 15, 80, n), degrees(rng, 5, 35, n), degrees(rng, 5, 45, n)
    torso = turned(lean, UP, FORWARD)
    shoulders = trunk(p, np.tile([0.0, 1.0, 0.0], (n, 1)), torso)
    for hip, knee, ankle, side in LEGS:
        knees_apart = side * rng.uniform(0, 0.16, n)[:, None] * LEFT
        p[:, knee] = p[:, hip] + THIGH * unit(turned(thigh, -UP, FORWARD) + knees_apart)
        p[:, ankle] = p[:, knee] + SHANK * turned(shank, -UP, -FORWARD)
    raised = lean + degrees(rng, -20, 25, n)
    up = 1 - rng.random(n) ** 2  # mostly raised, sometimes on the way up from pointing forward
    for shoulder, elbow, wrist, side in ARMS:
        arm = unit(blend(up, unit(FORWARD + 0.3 * side * LEFT), turned(raised, UP, FORWARD))
                   + side * rng.uniform(0, 0.25, n)[:, None] * LEFT)
        p[:, elbow] = p[:, shoulder] + UPPER_ARM * arm
        p[:, wrist] = p[:, elbow] + FOREARM * arm
    head(p, shoulders, unit(turned(lean, FORWARD, -UP)), torso)
    return p


def cobra(rng: np.random.Generator, n: int) -> np.ndarray:
    """Bhujangasana: lying face down, legs straight back on the floor, the chest lifted on the arms (from
    barely to high), hands by the chest or, entering the pose, spread out."""
    p = np.zeros((n, 17, 3))
    lift = degrees(rng, 5, 60, n)
    shoulders = trunk(p, np.tile([0.0, 0.1, 0.0], (n, 1)), turned(lift, FORWARD, UP))
    for hip, knee, ankle, side in LEGS:
        leg = unit(-FORWARD - 0.1 * UP + side * rng.uniform(0, 0.2, n)[:, None] * LEFT)
        p[:, knee] = p[:, hip] + THIGH * leg
        p[:, ankle] = p[:, knee] + SHANK * unit(leg + 0.1 * UP)
    spread_out = rng.random(n) ** 2
    for shoulder, elbow, wrist, side in ARMS:
        on_floor = np.stack([p[:, shoulder, 0] + side * 0.05, np.zeros(n),
                             p[:, shoulder, 2] + rng.uniform(-0.05, 0.12, n)], axis=-1)
        wide = p[:, shoulder] + 0.33 * unit(side * LEFT + 0.4 * FORWARD - 0.2 * UP)
        bend = blend(spread_out, np.tile(side * LEFT - FORWARD, (n, 1)), np.tile(UP, (n, 1)))
        p[:, elbow], p[:, wrist] = limb(p[:, shoulder], blend(spread_out, on_floor, wide), bend, UPPER_ARM, FOREARM)
    look = lift + degrees(rng, 0, 40, n)
    head(p, shoulders, unit(turned(look, FORWARD, UP)), unit(turned(look, UP, -FORWARD)))
    return p


def dog(rng: np.random.Generator, n: int) -> np.ndarray:
    """Adho mukha svanasana: an inverted V, hips highest, legs back to the feet (knees sometimes bent), the torso
    and the straight arms forward and down to the hands, the head between the arms."""
    p = np.zeros((n, 17, 3))
    down = degrees(rng, 25, 60, n)  # the torso below horizontal
    torso = turned(down, FORWARD, -UP)
    shoulders = trunk(p, np.tile([0.0, 0.75, 0.0], (n, 1)), torso)
    legs = degrees(rng, 15, 45, n)
    bent = degrees(rng, 0, 30, n) * (rng.random(n) < 0.4)
    for hip, knee, ankle, side in LEGS:
        p[:, knee] = p[:, hip] + THIGH * unit(turned(legs - bent, -UP, -FORWARD) + side * 0.04 * LEFT)
        p[:, ankle] = p[:, knee] + SHANK * turned(legs + bent, -UP, -FORWARD)
    arms = turned(down + degrees(rng, 0, 25, n), FORWARD, -UP)
    for shoulder, elbow, wrist, side in ARMS:
        arm = unit(arms + side * rng.uniform(0, 0.2, n)[:, None] * LEFT)
        p[:, elbow] = p[:, shoulder] + UPPER_ARM * arm
        p[:, wrist] = p[:, elbow] + FOREARM * arm
    head(p, shoulders + 0.05 * unit(arms - torso), np.tile(unit(-UP - 0.5 * FORWARD), (n, 1)), unit(arms))
    return p


def warrior(rng: np.random.Generator, n: int) -> np.ndarray:
    """Virabhadrasana III (the dataset's warrior): on one leg, the torso tipped forward towards horizontal and
    the other leg stretched back; the hands at the chest, the arms out to the sides or forward."""
    p = np.zeros((n, 17, 3))
    tip = degrees(rng, -15, 45, n)  # the torso's elevation above horizontal
    torso = turned(tip, FORWARD, UP)
    shoulders = trunk(p, np.tile([0.0, 1.0, 0.0], (n, 1)), torso)
    knee_bend = degrees(rng, 0, 25, n)

    def standing(hip):
        knee = hip + THIGH * turned(knee_bend, -UP, FORWARD)
        return knee, knee + SHANK * turned(0.5 * knee_bend, -UP, -FORWARD)

    def lifted(hip, stand_knee, outward):
        leg = turned(degrees(rng, -60, 15, n), -FORWARD, UP)
        return hip + THIGH * leg, hip + (THIGH + SHANK) * leg

    one_leg(p, rng, standing, lifted)
    arms = rng.integers(0, 3, n)  # 0: hands at the chest, 1: out to the sides, 2: forward along the torso
    for shoulder, elbow, wrist, side in ARMS:
        out = unit(side * LEFT + rng.uniform(-0.5, 0.3, n)[:, None] * UP + rng.uniform(-0.3, 0.5, n)[:, None] * FORWARD)
        ahead = unit(torso + side * 0.1 * LEFT)
        direction = np.where((arms == 1)[:, None], out, ahead)
        chest = (arms == 0)[:, None]
        hands = shoulders - 0.12 * UP + 0.05 * torso
        bent_elbow, hands = limb(p[:, shoulder], hands, np.tile(side * LEFT - UP, (n, 1)), UPPER_ARM, FOREARM)
        p[:, elbow] = np.where(chest, bent_elbow, p[:, shoulder] + UPPER_ARM * direction)
        p[:, wrist] = np.where(chest, hands, p[:, elbow] + FOREARM * direction)
    head(p, shoulders, unit(torso + 0.3 * FORWARD), unit(turned(tip, UP, -FORWARD)))
    return p


TEMPLATES: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "chair": chair, "cobra": cobra, "dog": dog, "tree": tree, "warrior": warrior}


def project(points: np.ndarray, azimuth: np.ndarray, elevation: np.ndarray, roll: np.ndarray,
            distance: np.ndarray, torso_px: np.ndarray) -> np.ndarray:
    """``[n, 17, 3]`` -> ``[n, 17, 2]`` pixels (y down) through a pinhole camera aimed at each body's centre
    from ``distance`` body heights, at ``azimuth`` (0: in front, pi/2: on the body's left) and ``elevation``
    (pi/2: straight above), turned by ``roll``, scaled so that a torso at the centre is ``torso_px`` long."""
    back = np.stack([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                     np.cos(elevation) * np.cos(azimuth)], axis=-1)  # from the body towards the camera
    # straight above, "up" in the image is the way the body faces
    world_up = np.where((elevation > np.deg2rad(89))[:, None], FORWARD, UP)
    right = unit(np.cross(world_up, back))
    up = np.cross(back, right)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    right, up = c * right + s * up, -s * right + c * up
    rel = points - points.mean(axis=1, keepdims=True)
    scale = (distance[:, None] / (distance[:, None] - np.einsum("nkj,nj->nk", rel, back))) * (torso_px / TORSO)[:, None]
    u = np.einsum("nkj,nj->nk", rel, right) * scale
    v = -np.einsum("nkj,nj->nk", rel, up) * scale
    return np.stack([150 + u, 150 + v], axis=-1)


def camera_view(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:func:`project` from a random camera: any azimuth, elevation -5..90 degrees, roll within 10 degrees,
    2-5 body heights away, the torso 40-90 px long."""
    n = len(points)
    return project(points, rng.uniform(0, 2 * np.pi, n), degrees(rng, -5, 90, n), degrees(rng, -10, 10, n),
                   rng.uniform(2.0, 5.0, n), rng.uniform(40.0, 90.0, n))


def missing_templates(labels: tuple[str, ...]) -> list[str]:
    """The pose classes (all but the negatives' ``other``) that have no template."""
    return [label for label in labels if label != OTHER and label not in TEMPLATES]


def synthetic_table(labels: tuple[str, ...], per_class: int, rng: np.random.Generator) -> KeypointTable:
    """``per_class`` rows of each label (but ``other``, the negatives') in ``labels``' numbering, in whole
    pixels like the extractor's; files named ``synthetic/<label>/<i>``."""
    if missing := missing_templates(labels):
        raise ClassifyError(f"no 3D template for the classes {missing} (there are {sorted(TEMPLATES)})")
    poses = [label for label in labels if label != OTHER]
    xy = np.concatenate([np.trunc(camera_view(TEMPLATES[label](rng, per_class), rng)) for label in poses])
    scores = rng.uniform(*SCORES, (len(xy), 17))
    class_no = np.repeat([labels.index(label) for label in poses], per_class)
    files = tuple(f"synthetic/{label}/{i}" for label in poses for i in range(per_class))
    return KeypointTable(files, xy, scores, class_no.astype(np.int64), labels)
