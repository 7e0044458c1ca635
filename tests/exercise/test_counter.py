"""The rep counter on its own: plain floats and frame times in, reps out."""

from __future__ import annotations

import numpy as np
import pytest

from edgeapp.exercise.counter import CounterLimits, Rep, RepCounter, RepRejected, SetEnded
from edgeapp.exercise.synthetic import Trace, concat, hold, sine_reps

SQUAT = CounterLimits(up=150.0, down=110.0)
FPS = 10.0


def run(trace: Trace, limits: CounterLimits = SQUAT, values=None):
    counter = RepCounter(limits)
    events = []
    for t, v in zip(trace.times, trace.values if values is None else values):
        events += counter.update(None if v is None or np.isnan(v) else float(v), float(t))
    return counter, events


def reps(events) -> list[Rep]:
    return [e for e in events if isinstance(e, Rep)]


def test_clean_cosine_reps_are_counted_with_interpolated_timing():
    counter, events = run(sine_reps(5, rest=170, far=90, period_s=2.0, fps=FPS))
    got = reps(events)
    assert counter.count == 5 and [r.count for r in got] == [1, 2, 3, 4, 5]
    # 170 -> 90 -> 170 over 2 s: the signal is below 150 for the middle 2 * acos(-0.5)/(2 pi) of the cycle.
    expected = 2.0 * (1 - 2 * np.arccos(0.5) / (2 * np.pi))
    for r in got:
        assert r.duration_s == pytest.approx(expected, abs=0.02)
        assert r.depth == pytest.approx(90, abs=0.5)
        assert r.range == pytest.approx(80, abs=0.5)
        assert r.down_s == pytest.approx(r.up_s, abs=0.11)  # a symmetric cosine: as long down as up


def test_noise_inside_the_hysteresis_band_does_not_add_reps():
    rng = np.random.default_rng(1)
    trace = sine_reps(6, rest=170, far=90, period_s=2.5, fps=30)
    noisy = trace.values + rng.normal(0, 6, trace.values.shape)  # 6 deg sd: a 40 deg band is 6.7 sd wide
    counter, _ = run(trace, values=noisy)
    assert counter.count == 6


@pytest.mark.parametrize("centre", [150.0, 110.0])
def test_jitter_around_one_threshold_counts_nothing(centre):
    rng = np.random.default_rng(2)
    t = np.arange(0, 60, 1 / 30)
    values = centre + rng.uniform(-15, 15, t.shape)  # crosses its threshold hundreds of times
    counter, events = run(Trace(t, values))
    assert counter.count == 0 and not reps(events)


def test_a_partial_movement_and_a_descent_that_never_comes_back_are_not_reps():
    partial = sine_reps(2, rest=170, far=120, period_s=2.0, fps=FPS)  # never reaches the down zone
    descent = sine_reps(1, rest=170, far=90, period_s=2.0, fps=FPS, tail_s=0)
    to_bottom = descent.times <= 2.0 + 1e-9  # 1 s at rest, then half a period down
    descent = Trace(descent.times[to_bottom], descent.values[to_bottom])
    counter, events = run(concat(partial, descent, fps=FPS))
    assert counter.count == 0 and counter.state.phase == "down"
    assert counter.finish(100.0) == ()  # no set was open: nothing to end


def test_a_pause_at_the_bottom_and_at_the_top_is_still_one_rep_each():
    down = sine_reps(1, rest=170, far=90, period_s=2.0, fps=FPS, tail_s=0)
    half = int(np.argmin(down.values))
    first_half = Trace(down.times[:half], down.values[:half])
    second_half = Trace(down.times[half:], down.values[half:])
    trace = concat(first_half, hold(90, 3.0, FPS), second_half, hold(170, 4.0, FPS),
                   sine_reps(1, 170, 90, 2.0, FPS), fps=FPS)
    counter, events = run(trace)
    first = reps(events)[0]
    assert counter.count == 2
    assert first.duration_s > 3.0 + first.down_s / 2  # the pause is part of the rep


def test_too_fast_and_too_slow_movements_are_rejected():
    fast = sine_reps(1, 170, 90, period_s=0.4, fps=60)  # 0.27 s below the up threshold
    slow = sine_reps(1, 170, 90, period_s=40.0, fps=FPS)
    counter, events = run(concat(fast, slow, fps=60))
    assert counter.count == 0
    assert [e.reason for e in events if isinstance(e, RepRejected)] == ["too_fast"]  # slow is dropped mid-way


def test_a_short_dropout_is_bridged_and_a_long_one_forgets_the_movement():
    trace = sine_reps(2, 170, 90, period_s=2.0, fps=FPS, lead_s=1.0, tail_s=1.0)
    values = trace.values.astype(object)
    short = (trace.times > 1.6) & (trace.times < 2.2)  # 0.5 s around the first bottom (at 2.0 s)
    long_gap = (trace.times > 3.35) & (trace.times < 4.85)  # 1.5 s over the second bottom (at 4.0 s)
    values[short] = None
    counter, _ = run(trace, values=values)
    assert counter.count == 2
    values[long_gap] = None
    counter, _ = run(trace, values=values)
    assert counter.count == 1


def test_leaving_after_a_rep_and_coming_back_does_not_count_it_again():
    rep = sine_reps(1, 170, 90, period_s=2.0, fps=FPS)
    away = Trace(np.arange(0, 5, 1 / FPS), np.full(50, np.nan))
    back_low = hold(95, 1.0, FPS)  # comes back crouching, then stands: nothing seen to start a rep
    trace = concat(rep, away, back_low, hold(170, 1.0, FPS), fps=FPS)
    counter, events = run(trace)
    assert counter.count == 1 and len(reps(events)) == 1


def test_a_set_ends_after_the_pause_and_not_before():
    limits = CounterLimits(150.0, 110.0, set_pause_s=10.0)
    first = sine_reps(3, 170, 90, 2.0, FPS)
    # 6 s held + 1 s tail + 1 s lead + the parts of two cycles above 150: under 9 s from one rep to the next.
    trace = concat(first, hold(170, 6.0, FPS), sine_reps(2, 170, 90, 2.0, FPS), hold(170, 12.0, FPS), fps=FPS)
    counter, events = run(trace, limits)
    ended = [e for e in events if isinstance(e, SetEnded)]
    assert counter.count == 5
    assert [(e.set_reps, e.reason) for e in ended] == [(5, "pause")]  # < 10 s between reps: one set
    assert ended[0].time - ended[0].ended_at == pytest.approx(10.0, abs=1 / FPS)


def test_rest_down_exercises_count_up_and_back_and_report_up_time_first():
    jack = CounterLimits(up=0.5, down=-0.5, rest="down", min_rep_s=0.3)
    trace = sine_reps(4, rest=-1.1, far=1.1, period_s=1.0, fps=30)
    counter, events = run(trace, jack)
    got = reps(events)
    assert counter.count == 4 and all(r.depth == pytest.approx(1.1, abs=0.02) for r in got)
    assert counter.state.phase == "down"


def test_a_clock_that_goes_back_starts_afresh_without_counting():
    a = sine_reps(1, 170, 90, 2.0, FPS)
    half = len(a.times) // 2
    counter = RepCounter(SQUAT)
    for t, v in zip(a.times[:half], a.values[:half]):
        counter.update(float(v), float(t))
    events = []
    for t, v in zip(a.times[half:] - 100, a.values[half:]):  # a new clip, mid-way up
        events += counter.update(float(v), float(t))
    assert counter.count == 0 and not reps(events)


def test_up_not_above_down_is_refused():
    with pytest.raises(ValueError, match="up must be above down"):
        CounterLimits(up=100, down=100)
