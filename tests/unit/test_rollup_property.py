"""The roll-up's arithmetic over any history and any schedule of runs: what a report says is outstanding and pending at
the end of a day is the sum of every day through it, whatever was rolled up, in how many runs, and where the range
falls (before the first day, across the last roll-up, past the horizon). The store-backed test beside it
(tests/functional/test_report_rollup.py) checks the same against the ledger on three histories; this one checks the
domain's planning (`plan`, `roll_up_days`, `rolled`, `cumulate`) over thousands."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain import stats
from loyalty.domain.stats import CUMULATED, CUMULATIVE, DAY, NET_ATTRIBUTE, PENDING_ATTRIBUTE, Bucket

FIRST = date(2025, 1, 1)


@st.composite
def histories(draw):
    """Day figures from the first day through the horizon, the roll-up's runs (each stops after `most` days), a range."""
    age = draw(st.integers(0, 120))  # days from the first day counted to today
    today = FIRST + timedelta(days=age)
    pending_days = draw(st.integers(0, 20))
    horizon = today + timedelta(days=pending_days + 2)  # nothing is ever written after it
    figures = {}
    for offset in range((horizon - FIRST).days + 1):
        if draw(st.booleans()):
            figures[FIRST + timedelta(days=offset)] = {NET_ATTRIBUTE: draw(st.integers(-500, 5_000)),
                                                       PENDING_ATTRIBUTE: draw(st.integers(-500, 500))}
    runs = draw(st.lists(st.tuples(st.integers(0, age), st.integers(1, 30)), max_size=6))  # (day of the run, most)
    start = FIRST + timedelta(days=draw(st.integers(-10, age + 30)))
    end = start + timedelta(days=draw(st.integers(0, 60)))
    return today, pending_days, figures, sorted(runs), start, end


@settings(max_examples=400, deadline=None)
@given(histories())
def test_a_report_sums_every_day_through_its_end_whatever_was_rolled_up(history):
    today, pending_days, figures, runs, start, end = history
    counters = {Bucket(DAY, day.isoformat()): values for day, values in figures.items()}
    # The roll-up's runs, in the order the daily schedule would make them, each resuming from the marker.
    rolled_through, previous = None, {}
    for run_day, most in runs:
        for day in stats.roll_up_days(rolled_through, FIRST, FIRST + timedelta(days=run_day), most):
            assert day <= FIRST + timedelta(days=run_day - stats.SETTLE_DAYS)  # only settled days
            assert rolled_through is None or day == rolled_through + timedelta(days=1)  # no day skipped or twice
            previous = stats.rolled(previous, figures.get(day, {}))
            counters[Bucket(CUMULATIVE, day.isoformat())] = previous
            rolled_through = day

    report_plan = stats.plan(start, end, today, FIRST, pending_days, rolled_through)
    buckets = set(report_plan.buckets())
    through = stats.cumulate(report_plan, {bucket: values for bucket, values in counters.items() if bucket in buckets})

    truth = {name: sum(values[name] for day, values in figures.items() if day <= end) for name in CUMULATED}
    assert through == truth
    # Reads stay bounded by the range and the days since the last roll-up, never by the program's age.
    unrolled = (today - rolled_through).days if rolled_through else (today - FIRST).days + 1
    assert len(report_plan.summed_days) <= max(0, unrolled) + pending_days + 3
