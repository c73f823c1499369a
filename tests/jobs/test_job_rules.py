"""Expiry, reminders and tier review as plain rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from loyalty.domain import ledger, scheduled
from loyalty.domain.model import EntryRef
from loyalty.domain.calendar import end_of_month
from tests.unit.test_rules import PROGRAM, member, program

DAY_AFTER_OCTOBER = datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc)


def test_a_partly_spent_lot_expires_only_what_remains():
    m = member(balance=30, lots={"2026-10": 30}, points_earned=100, points_redeemed=70, version=3)
    change = scheduled.expire_and_remind(m, PROGRAM, DAY_AFTER_OCTOBER)
    entry = change.entry
    assert (entry.type, entry.points, entry.ref, entry.balance_after) == ("expire", -30, EntryRef("expire", "2026-10"), 0)
    assert change.member.lots == {} and change.member.points_expired == 30 and change.member.reminded_lots == []
    assert m.balance == 30, "the rules never mutate their inputs"


def test_only_past_lots_expire_and_those_due_soon_are_reminded_once():
    m = member(balance=60, lots={"2026-10": 10, "2026-11": 20, "2027-03": 30})
    change = scheduled.expire_and_remind(m, PROGRAM, DAY_AFTER_OCTOBER)
    assert change.member.lots == {"2026-11": 20, "2027-03": 30} and change.member.balance == 50
    assert change.entry.lots_consumed == {"2026-10": 10} and change.member.reminded_lots == ["2026-11"]
    assert scheduled.expire_and_remind(change.member, PROGRAM, DAY_AFTER_OCTOBER) is None, "the same day twice changes nothing"
    later = datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert scheduled.expire_and_remind(change.member, PROGRAM, later) is None, "one reminder per lot, not one per day"


def test_lots_expire_at_the_end_of_their_month_and_reminded_months_are_forgotten_with_them():
    m = member(balance=20, lots={"2026-11": 20}, reminded_lots=["2026-11"])
    assert scheduled.expire_and_remind(m, PROGRAM, end_of_month("2026-11")) is None, "still valid on its last second"
    change = scheduled.expire_and_remind(m, PROGRAM, end_of_month("2026-11") + timedelta(seconds=1))
    assert change.member.balance == 0 and change.member.reminded_lots == []


def test_a_reminder_without_an_expiry_writes_no_ledger_entry_but_moves_the_version():
    m = member(balance=20, lots={"2026-11": 20}, version=4)
    change = scheduled.expire_and_remind(m, PROGRAM, DAY_AFTER_OCTOBER)
    assert change.entries == [] and change.member.reminded_lots == ["2026-11"]
    assert change.member.version == 5, "a request that read version 4 must not write back the old reminders"


def test_next_due_is_the_reminder_then_the_expiry():
    m = member(lots={"2026-11": 20, "2027-03": 5})
    assert ledger.next_due(m, PROGRAM) == end_of_month("2026-11") - timedelta(days=30)
    m.reminded_lots = ["2026-11"]
    assert ledger.next_due(m, PROGRAM) == end_of_month("2026-11")
    assert ledger.next_due(member(), PROGRAM) is None


def test_review_downgrades_one_level_at_a_time_and_once_a_month():
    gold = member(tier="Gold", qualifying={"2025-01": 5000})
    change = scheduled.review_tier(gold, PROGRAM, DAY_AFTER_OCTOBER)
    assert change.member.tier == "Silver" and change.tier_moves == [("m1", "Gold", "Silver")]
    assert change.member.tier_reviewed == "2026-11" and change.entries == [] and change.member.version == gold.version + 1
    assert scheduled.review_tier(change.member, PROGRAM, DAY_AFTER_OCTOBER) is None
    steep = program(tier_review={"max_levels_down": 2})
    assert scheduled.review_tier(gold, steep, DAY_AFTER_OCTOBER).member.tier == "Bronze"


def test_review_keeps_a_tier_still_earned():
    silver = member(tier="Silver", qualifying={"2026-06": 150})
    change = scheduled.review_tier(silver, PROGRAM, DAY_AFTER_OCTOBER)
    assert change.member.tier == "Silver" and change.tier_moves == []
