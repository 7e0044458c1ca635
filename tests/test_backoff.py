"""Reconnect delays, shared by the broker link, live cameras and video files."""

from __future__ import annotations

import random

from edgeapp.backoff import backoff_delay, backoff_delays


def test_backoff_doubles_to_the_cap_with_jitter_that_never_reaches_zero():
    random.seed(7)
    for failures in range(12):
        cap = min(60.0, 1.0 * 2 ** failures)
        delays = [backoff_delay(failures, 1.0, 60.0) for _ in range(200)]
        assert cap / 2 <= min(delays) and max(delays) <= cap
        assert len({round(d, 6) for d in delays}) > 100  # a fleet does not reconnect in lock-step


def test_backoff_survives_very_long_outages():
    assert 30.0 <= backoff_delay(10_000, 1.0, 60.0) <= 60.0


def test_the_delays_of_a_camera_grow_to_the_cap():
    random.seed(3)
    delays = backoff_delays(0.5, 4.0)
    values = [next(delays) for _ in range(8)]
    assert 0.25 <= values[0] <= 0.5 and all(v <= 4.0 for v in values) and values[-1] >= 2.0
