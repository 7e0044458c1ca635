from __future__ import annotations

from edgeapp.mqtt.ratelimit import PoseRateLimiter


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_pose_events_are_thinned_to_the_rate():
    clock = Clock()
    limiter = PoseRateLimiter(2.0, clock)
    passed = []
    for i in range(30):  # 30 frames at 10 fps = 3 s
        clock.t = i / 10
        passed.append(limiter.allow(True))
    assert sum(passed) == 6


def test_presence_changes_always_pass_even_at_rate_zero():
    clock = Clock()
    limiter = PoseRateLimiter(0.0, clock)
    assert [limiter.allow(p) for p in (True, True, True, False, False, True)] == [True, False, False, True, False, True]
