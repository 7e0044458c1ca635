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


def test_the_error_budget_allows_20_in_any_second_and_counts_the_rest():
    from edgeapp.mqtt.ratelimit import EventBudget

    budget = EventBudget(20)
    times = [i * 0.001 for i in range(1000)] + [1.5 + i * 0.01 for i in range(100)]
    taken = [t for t in times if budget.take(t)[0]]
    assert max(sum(1 for u in taken if s <= u < s + 1.0) for s in taken) == 20
    assert len(taken) == 20 + 20  # 20 in the first second, 20 from 1.5 s; the window reopens at 2.5 s, after the last
    allowed, held_back = budget.take(10.0)
    assert allowed and held_back == sum(1 for t in times if t > taken[-1])  # since the last one let through
