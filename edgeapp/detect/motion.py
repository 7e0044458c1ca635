"""Constant-velocity Kalman filter for one box: where a track should be in the next frame.

The state is the box centre, width and height with their velocities, per
*second* (frames may come at any rate: a Pi drops to 5 fps under load, a file
runs at 25). The four coordinates are independent (SORT and ByteTrack use
diagonal noise), so the covariance is four 2x2 blocks and the filter is a few
dozen float operations: no numpy, whose per-call cost would dwarf them.

Noise follows ByteTrack's ``KalmanFilter`` (position std = height / 20,
velocity std = height / 160 per frame at its 30 fps), converted to seconds as a
random walk, so its variance grows with the time elapsed, not the frames.
"""

from __future__ import annotations

from edgeapp.detect.detection import BBox

REF_FPS = 30.0  # the frame rate ByteTrack's per-frame noise was set for
STD_POSITION = 1.0 / 20.0
STD_VELOCITY = 1.0 / 160.0
MIN_SIZE = 1e-4  # a predicted box never shrinks to nothing


class BoxMotion:
    """``x``: cx, cy, w, h; ``v``: their rates per second; ``p``: per coordinate (var x, cov xv, var v)."""

    __slots__ = ("x", "v", "p")

    def __init__(self, box: BBox):
        cx, cy = box.center
        h = max(box.height, MIN_SIZE)
        self.x = [cx, cy, max(box.width, MIN_SIZE), h]
        self.v = [0.0, 0.0, 0.0, 0.0]
        pos = (2.0 * STD_POSITION * h) ** 2
        vel = (10.0 * STD_VELOCITY * h * REF_FPS) ** 2
        self.p = [[pos, 0.0, vel] for _ in range(4)]

    @property
    def box(self) -> BBox:
        cx, cy, w, h = self.x
        return BBox.from_center(cx, cy, w, h)

    def predict(self, dt: float, seen: bool = True) -> None:
        """Advance ``dt`` seconds. An unseen track stops changing size (as ByteTrack zeroes the
        height rate of lost tracks): growth guessed from two frames would balloon over an occlusion."""
        if not seen:
            self.v[2] = self.v[3] = 0.0
        if dt <= 0.0:
            return
        h = self.x[3]
        steps = dt * REF_FPS
        q_pos = (STD_POSITION * h) ** 2 * steps
        q_vel = (STD_VELOCITY * h * REF_FPS) ** 2 * steps
        for k in range(4):
            self.x[k] += self.v[k] * dt
            p00, p01, p11 = self.p[k]
            self.p[k] = [p00 + 2.0 * dt * p01 + dt * dt * p11 + q_pos, p01 + dt * p11, p11 + q_vel]
        self.x[2] = max(self.x[2], MIN_SIZE)
        self.x[3] = max(self.x[3], MIN_SIZE)

    def correct(self, box: BBox) -> None:
        """Fold in a measured box."""
        cx, cy = box.center
        z = (cx, cy, box.width, box.height)
        r = (STD_POSITION * self.x[3]) ** 2
        for k in range(4):
            p00, p01, p11 = self.p[k]
            s = p00 + r
            k0, k1 = p00 / s, p01 / s
            y = z[k] - self.x[k]
            self.x[k] += k0 * y
            self.v[k] += k1 * y
            self.p[k] = [(1.0 - k0) * p00, (1.0 - k0) * p01, p11 - k1 * p01]
        self.x[2] = max(self.x[2], MIN_SIZE)
        self.x[3] = max(self.x[3], MIN_SIZE)

    def shift(self, dx: float, dy: float) -> None:
        """The view moved (a pan/tilt step): the scene, and so the box, moved by this much."""
        self.x[0] += dx
        self.x[1] += dy
