"""Pending points (program `earn.pending_days`) with plain values: no DynamoDB, no HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pydantic
import pytest

from loyalty.domain import earning, errors, ledger, membership, redeeming, scheduled
from loyalty.domain.model import Profile, Purchase, Redemption
from loyalty.domain.calendar import add_months, end_of_month
from loyalty.program import Program
from tests.unit.test_rules import NOW, member, program

DAYS = 14
PENDING = program(earn={"points_per_unit": 1, "unit_minor": 100, "pending_days": DAYS})
AVAILABLE = NOW + timedelta(days=DAYS)  # 2026-12-07 10:00 UTC


def earn(m, amount, txid="t1", *, now=NOW, occurred_at=None, referrer=None):
    return earning.earn(m, PENDING, Purchase(txid, amount, "EUR", occurred_at=occurred_at), now, request_hash="h",
                      referrer=referrer)


def assert_ledger(m, entries) -> None:
    """The invariant: what can be spent plus what is pending is what the ledger credited, neither negative."""
    assert m.balance == sum(m.lots.values()) >= 0
    assert ledger.points_pending(m) >= 0
    assert m.balance + ledger.points_pending(m) == sum(entry.points for entry in entries)


def test_pending_days_defaults_to_zero_and_is_bounded():
    assert program().earn.pending_days == 0
    assert PENDING.earn.pending_days == DAYS
    for wrong in (-1, 91):
        with pytest.raises(pydantic.ValidationError):
            program(earn={"points_per_unit": 1, "unit_minor": 100, "pending_days": wrong})


def test_without_a_window_points_are_available_at_once():
    change = earning.earn(member(), program(), Purchase("t1", 5_000, "EUR"), NOW, request_hash="h")
    assert change.member.balance == 50 and change.member.pending == {}
    assert change.entry.available_at is None


def test_purchase_points_are_pending_until_available_at():
    change = earn(member(), 5_000)
    m = change.member
    assert m.balance == 0 and ledger.points_pending(m) == 50
    assert ledger.pending_lots(m) == [(AVAILABLE, 50)]
    assert change.entry.available_at == AVAILABLE
    assert change.entry.expires_at == end_of_month(add_months("2026-12", 12))  # counted from availability
    assert m.qualifying == {} and ledger.qualifying_points(m, PENDING, AVAILABLE) == 0
    assert_ledger(m, change.entries)


def test_activation_on_the_boundary_second():
    m = earn(member(), 5_000).member
    assert ledger.settle(m, PENDING, AVAILABLE - timedelta(seconds=1)) is None
    settled = ledger.settle(m, PENDING, AVAILABLE)
    assert settled is not None and settled.entries == []
    assert settled.member.balance == 50 and settled.member.pending == {}
    assert settled.member.lots == {add_months("2026-12", 12): 50}  # expiry month from activation, not purchase
    assert settled.member.qualifying == {"2026-12": 50}
    assert settled.member.version == m.version + 1  # a write of its own: concurrent writers reread
    assert m.balance == 0  # the input is not changed


def test_redemptions_spend_only_available_points():
    m = earn(member(), 5_000).member
    with pytest.raises(errors.InsufficientPoints):
        redeeming.redeem(m, PENDING, AVAILABLE - timedelta(seconds=1), idempotency_key="k", request_hash="h", points=10)
    spent = redeeming.redeem(m, PENDING, AVAILABLE, idempotency_key="k", request_hash="h", points=10)  # settles first
    assert spent.member.balance == 40 and spent.member.pending == {}
    assert [entry.seq for entry in spent.entries] == [m.version + 1]


def test_tier_counts_from_activation():
    m = earn(member(), 12_000).member  # 120 qualifying points: Silver once they count
    assert m.tier == "Bronze"
    settled = ledger.settle(m, PENDING, AVAILABLE)
    assert settled.member.tier == "Silver"
    assert settled.tier_moves == [("m1", "Bronze", "Silver")]


def test_a_purchase_returned_inside_its_window_takes_back_pending_points_and_never_lifts_the_tier():
    first = earn(member(), 12_000)
    change, purchase = earning.return_purchase(first.member, first.entry, return_id="r", amount_minor=12_000,
                                             now=NOW + timedelta(days=1), request_hash="h", program=PENDING)
    assert change.entry.points == -120 and change.entry.points_unrecovered == 0
    assert change.member.pending == {} and change.member.pending_qualifying == {}
    assert purchase.points_reversed == 120
    assert ledger.settle(change.member, PENDING, AVAILABLE) is None
    assert change.member.tier == "Bronze" and ledger.qualifying_points(change.member, PENDING, AVAILABLE) == 0
    assert_ledger(change.member, first.entries + change.entries)


def test_a_partial_return_inside_the_window_leaves_the_rest_pending():
    first = earn(member(), 10_000)
    change, _ = earning.return_purchase(first.member, first.entry, return_id="r", amount_minor=4_000,
                                      now=NOW, request_hash="h", program=PENDING)
    assert change.member.balance == 0 and ledger.points_pending(change.member) == 60
    settled = ledger.settle(change.member, PENDING, AVAILABLE).member
    assert settled.balance == 60 and settled.qualifying == {"2026-12": 60}
    assert_ledger(settled, first.entries + change.entries)


def test_returns_across_pending_and_available_points():
    older = earn(member(), 3_000, "old", occurred_at=NOW - timedelta(days=20))  # reported late: available at once
    assert older.member.balance == 30 and older.member.pending == {}
    assert older.entry.available_at == NOW - timedelta(days=20) + timedelta(days=DAYS)
    newer = earn(older.member, 5_000, "new")
    m = newer.member
    assert m.balance == 30 and ledger.points_pending(m) == 50
    # The older purchase: its points are available, so the balance pays, the pending lot is left alone.
    change, _ = earning.return_purchase(m, older.entry, return_id="r1", amount_minor=3_000, now=NOW,
                                      request_hash="h", program=PENDING)
    assert change.member.balance == 0 and ledger.points_pending(change.member) == 50
    assert_ledger(change.member, older.entries + newer.entries + change.entries)


def test_a_return_after_activation_takes_from_the_balance_never_below_zero():
    first = earn(member(), 5_000)
    spent = redeeming.redeem(first.member, PENDING, AVAILABLE, idempotency_key="k", request_hash="h", points=45)
    change, _ = earning.return_purchase(spent.member, first.entry, return_id="r", amount_minor=5_000,
                                      now=AVAILABLE + timedelta(hours=1), request_hash="h", program=PENDING)
    assert change.entry.points == -5 and change.entry.points_unrecovered == 45
    assert change.member.balance == 0 and change.member.qualifying == {"2026-12": 0}
    assert_ledger(change.member, first.entries + spent.entries + change.entries)


def test_welcome_and_admin_credits_are_available_at_once_the_referral_bonus_waits_with_the_purchase():
    referrer = membership.enroll("m0", _profile("r@example.com"), PENDING, NOW).member
    joined = membership.enroll("m1", _profile("a@example.com"), PENDING, NOW, referred_by="m0").member
    assert joined.balance == 50 and joined.pending == {}
    change = earn(joined, 1_000, referrer=referrer)
    referee, referred = change.members
    assert referee.balance == 50 and ledger.points_pending(referee) == 10 + 100
    assert referred.balance == 50 and ledger.pending_lots(referred) == [(AVAILABLE, 100)]
    assert all(entry.available_at == AVAILABLE for entry in change.entries)
    credit = earning.adjust(referee, PENDING, NOW, idempotency_key="a", points=5, reason="goodwill", actor="admin",
                          request_hash="h")
    assert credit.member.balance == 55


def _profile(email):
    return Profile(email=email, channel="app")


def test_expiry_job_settles_and_lists_the_member_when_points_become_available():
    m = earn(member(), 5_000).member
    assert ledger.next_due(m, PENDING) == AVAILABLE
    assert scheduled.expire_and_remind(m, PENDING, AVAILABLE - timedelta(seconds=1)) is None
    change = scheduled.expire_and_remind(m, PENDING, AVAILABLE)
    assert change is not None and change.entries == []
    assert change.member.balance == 50 and change.member.version == m.version + 1
    assert ledger.next_due(change.member, PENDING) == end_of_month(add_months("2026-12", 12)) - timedelta(days=30)


def test_expiry_counts_from_activation():
    m = earn(member(), 5_000).member
    expiry = end_of_month(add_months("2026-12", 12))
    settled = scheduled.expire_and_remind(m, PENDING, AVAILABLE).member
    before = scheduled.expire_and_remind(settled, PENDING, end_of_month(add_months("2026-11", 12)) + timedelta(seconds=1))
    assert before is None  # nothing expires at the end of November: the lot counts from December
    expired = scheduled.expire_and_remind(settled, PENDING, expiry + timedelta(seconds=1))
    assert expired.entry.points == -50


def test_cancel_and_erase_see_pending_points():
    first = earn(member(), 5_000)
    spent = redeeming.redeem(first.member, PENDING, AVAILABLE, idempotency_key="k", request_hash="h", points=20)
    again = earn(spent.member, 1_000, "t2", now=AVAILABLE)
    cancelled = redeeming.cancel_redemption(again.member, Redemption.of(spent.entry, False), AVAILABLE, PENDING)
    assert cancelled.member.balance == 50 and ledger.points_pending(cancelled.member) == 10
    erased = membership.erase(cancelled.member, AVAILABLE)
    assert erased.entry.points == -60 and erased.member.pending == {} and erased.member.balance == 0
    assert_ledger(erased.member, first.entries + spent.entries + again.entries + cancelled.entries + erased.entries)


def test_program_document_publishes_pending_days():
    assert Program.model_validate(PENDING.model_dump()).earn.pending_days == DAYS
    assert datetime(2026, 12, 7, 10, tzinfo=timezone.utc) == AVAILABLE
