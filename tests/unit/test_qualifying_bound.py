"""A member's qualifying points are kept by month for at most MAX_QUALIFYING_WINDOW_MONTHS months (the longest window
any program version may have): the member item every earn writes stays bounded however long the member buys, and
what counts for the tier is what every purchase of the window earned, as a sum over the purchases computed here."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain import ledger
from loyalty.domain.calendar import month_key, window
from loyalty.program import MAX_QUALIFYING_WINDOW_MONTHS
from tests.unit.test_rules import NOW, earn, member, program


@settings(max_examples=60, deadline=None)
@given(window_months=st.integers(1, MAX_QUALIFYING_WINDOW_MONTHS),  # histories of years: 30 to 120 purchases
       purchases=st.lists(st.tuples(st.integers(0, 120), st.integers(100, 50_000)), min_size=30, max_size=120))
def test_months_no_window_reaches_are_forgotten_and_the_window_still_counts_every_purchase(window_months, purchases):
    rules = program(qualifying_window_months=window_months)
    current, now, earned = member(), NOW, []
    for index, (days_later, amount) in enumerate(purchases):
        now += timedelta(days=days_later)
        change = earn(current, amount, f"t{index}", program=rules, now=now)
        current = change.member
        earned.append((month_key(now), change.entry.qualifying_points))
        assert len(current.qualifying) <= MAX_QUALIFYING_WINDOW_MONTHS
        months = window(now, window_months)
        assert ledger.qualifying_points(current, rules, now) == sum(points for month, points in earned if month in months)
