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


def test_each_person_has_a_rate_of_their_own():
    clock = Clock()
    limiter = PoseRateLimiter(2.0, clock)
    passed = {3: 0, 5: 0}
    for i in range(30):  # two people in every frame, 10 fps for 3 s
        clock.t = i / 10
        for person in passed:
            passed[person] += limiter.allow(True, person)
    assert passed == {3: 6, 5: 6}  # not 6 shared between them
    assert limiter.allow(False, 3) and not limiter.allow(True, 5)  # person 3 leaving is news at once
    assert limiter.allow(True, 3)  # ... and so is coming back
