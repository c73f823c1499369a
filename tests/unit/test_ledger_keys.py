"""The activity index's keys rise with the order entries are applied in, whatever the clocks of the writers said."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain import earning
from loyalty.store import keys
from tests.unit.test_rules import NOW, PROGRAM, member


@given(skews=st.lists(st.integers(-60_000, 60_000), min_size=1, max_size=30))
def test_keys_follow_the_applied_order_and_created_at_stays_the_writers_clock(skews):
    m, entries = member(), []
    for index, skew_ms in enumerate(skews):
        now = NOW + timedelta(milliseconds=skew_ms)  # each write's own clock, ahead of or behind the others
        change = earning.adjust(m, PROGRAM, now, idempotency_key=f"k{index}", points=10, reason="r", actor="admin",
                              request_hash="h")
        m = change.member
        entries.append(change.entry)
        assert change.entry.created_at == now, "the entry keeps the time its writer read"
    listed = sorted(entries, key=keys.created_seq)
    assert [entry.seq for entry in listed] == sorted(entry.seq for entry in entries)
    assert [entry.balance_after for entry in listed] == [10 * (index + 1) for index in range(len(skews))]
    for earlier, later in zip(entries, entries[1:], strict=False):  # listed at the latest time seen, never before it
        assert (later.ledger_at or later.created_at) == max(earlier.ledger_at or earlier.created_at, later.created_at)
