"""Exercises as data: which signal to follow, on which side, and the thresholds of a repetition.

A definition names a *signal* computed from the keypoints of one side of the body:

* ``angle``: the angle in degrees at the middle of three joints (``hip, knee, ankle``: 180 = straight);
* ``height``: how far the first joint is above the second, in torso lengths (shoulder to hip of the
  same side), so it does not depend on how far the person stands from the camera;
* ``distance``: the distance between two joints, in torso lengths.

Joints are named without a side (``knee``: the side is chosen by ``side``) or with one (``left_knee``:
always that joint). ``up`` and ``down`` are two thresholds on the signal with ``up > down``: the
signal is in the *up* zone at or above ``up`` and in the *down* zone at or below ``down``; between them
the phase does not change (hysteresis). ``rest`` says which zone a repetition starts and ends in (a
squat rests up, a jumping jack rests with the arms down).

Built-in thresholds follow published conventions, never a clip (see ``docs/exercise.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Mapping

from edgeapp.pose.keypoint import KEYPOINT_NAMES
from edgeapp.settings import Problems

SIGNALS = ("angle", "height", "distance")
JOINTS_PER_SIGNAL = {"angle": 3, "height": 2, "distance": 2}
SIDES = ("left", "right")
# Joints that come in pairs may be named without their side; the definition's side picks one.
SIDED_JOINTS = tuple(n[len("left_"):] for n in KEYPOINT_NAMES if n.startswith("left_"))
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class Exercise:
    """One exercise (a ``[exercise.<name>]`` table; the name is the table's key)."""

    signal: Literal["angle", "height", "distance"] | None = None  # what is measured (required)
    joints: tuple[str, ...] = ()  # 3 for an angle (at the middle one), 2 otherwise (required)
    up: float | None = None  # the up zone is signal >= up (required; above down)
    down: float | None = None  # the down zone is signal <= down (required)
    side: Literal["left", "right", "better", "both"] = "better"  # which side(s) of the body to read
    rest: Literal["up", "down"] = "up"  # the zone a rep starts and ends in
    min_rep_s: float = 0.5  # a faster movement is not a rep
    max_rep_s: float = 20.0  # nor a slower one

    def check(self, problems: Problems) -> None:
        if not problems.require(self.signal is not None, "signal", f"is required: one of {', '.join(SIGNALS)}"):
            return
        n = JOINTS_PER_SIGNAL[self.signal]
        problems.require(len(self.joints) == n, "joints", f"a {self.signal} signal needs {n} joints, got {len(self.joints)}")
        for i, joint in enumerate(self.joints):
            problems.require(joint in KEYPOINT_NAMES or joint in SIDED_JOINTS, f"joints[{i}]",
                             f"unknown joint {joint!r}; known: {', '.join(SIDED_JOINTS)}, nose, or any of them with "
                             f"left_/right_ (e.g. left_knee)")
        have_up = problems.require(self.up is not None, "up", "is required (the signal's threshold of the up zone)")
        have_down = problems.require(self.down is not None, "down", "is required (the signal's threshold of the down zone)")
        if have_up and have_down and problems.require(
                self.up > self.down, "up",
                f"must be above down (up {self.up:g} <= down {self.down:g}); the band between them is the hysteresis"):
            if self.signal == "angle":
                problems.require(0 <= self.down and self.up <= 180, "up", "joint angles are 0..180 degrees")
        problems.require(0 < self.min_rep_s < self.max_rep_s <= 600, "min_rep_s",
                         f"needs 0 < min_rep_s < max_rep_s <= 600, got {self.min_rep_s:g} and {self.max_rep_s:g}")

    def joint_index(self, joint: str, side: str) -> int:
        """The COCO index of ``joint`` on ``side`` (a joint named with its side keeps it)."""
        name = joint if joint in KEYPOINT_NAMES else f"{side}_{joint}"
        return KEYPOINT_NAMES.index(name)

    @property
    def units(self) -> str:
        return "deg" if self.signal == "angle" else "torso"


# Thresholds, each by a stated rule (docs/exercise.md has the sources):
# - angle exercises are "up" within 30 deg of a straight joint (>= 150): a partial squat already bends the
#   knee 40 deg (Schoenfeld 2010), so standing and a partial squat are never confused;
# - squat is "down" past a quarter squat: knee flexion > 60 deg (<= 120); image-plane angles of a squat seen
#   from the front read one knee 10-20 deg straighter than the other, so a stricter depth rule would judge
#   the camera angle rather than the squat (docs/exercise.md);
# - lunge is "down" within 20 deg of the standard 90 deg knee (<= 110), both knees averaged;
# - push-up is "down" at an elbow of 90 deg, the depth of the standard push-up tests (ACSM, army tests);
# - jumping jack: the wrist above the shoulder by half a torso is "up", half a torso below is "down".
#   With the arm 1.15 torso lengths long (Drillis & Contini segment lengths: arm 0.332 H, torso 0.288 H),
#   that is an arm 26 deg above / below horizontal, half way between horizontal and each extreme.
# - min_rep_s 0.5 s (120 reps a minute, twice the cadence of fast bodyweight sets), jumping jack 0.3 s;
#   max_rep_s 20 s, the 10 s down + 10 s up of super-slow training (Hutchins' SuperSlow protocol).
BUILTIN: dict[str, Exercise] = {
    "squat": Exercise("angle", ("hip", "knee", "ankle"), up=150.0, down=120.0, side="better"),
    "pushup": Exercise("angle", ("shoulder", "elbow", "wrist"), up=150.0, down=90.0, side="better"),
    "jumping_jack": Exercise("height", ("wrist", "shoulder"), up=0.5, down=-0.5, side="both", rest="down",
                             min_rep_s=0.3),
    "lunge": Exercise("angle", ("hip", "knee", "ankle"), up=150.0, down=110.0, side="both"),
}


def check_names(problems: Problems, user: Mapping[str, Exercise], path: str = "exercise") -> None:
    for name in user:
        problems.require(bool(NAME_PATTERN.match(name)), f"{path}.{name}",
                         "an exercise name is lower case letters, digits and _, starting with a letter (at most 32)")
