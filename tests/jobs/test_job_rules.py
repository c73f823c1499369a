"""Expiry, reminders and tier review as plain rules."""

from __future__ import annotations

from datetime import datetime, timezone

from loyalty.domain import rules
from loyalty.domain.months import end_of_month
from tests.unit.test_rules import PROGRAM, member, program

DAY_AFTER_OCTOBER = datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc)


def test_a_partly_spent_lot_expires_only_what_remains():
    m = member(balance=30, lots={"2026-10": 30}, points_earned=100, points_redeemed=70, version=3)
    change, reminders = rules.expire_and_remind(m, PROGRAM, DAY_AFTER_OCTOBER)
    entry = change.entry
    assert (entry.type, entry.points, entry.key, entry.balance_after) == ("expire", -30, "expire#2026-10", 0)
    assert change.member.lots == {} and change.member.points_expired == 30 and reminders == []
    assert m.balance == 30, "the rules never mutate their inputs"


def test_only_past_lots_expire_and_those_due_soon_are_reminded_once():
    m = member(balance=60, lots={"2026-10": 10, "2026-11": 20, "2027-03": 30})
    change, reminders = rules.expire_and_remind(m, PROGRAM, DAY_AFTER_OCTOBER)
    assert change.member.lots == {"2026-11": 20, "2027-03": 30} and change.member.balance == 50
    assert [(r.points, r.expires_at) for r in reminders] == [(20, end_of_month("2026-11"))]
    assert change.member.reminded_lots == ["2026-11"]
    assert rules.expire_and_remind(change.member, PROGRAM, DAY_AFTER_OCTOBER) is None, "the same day twice changes nothing"
    later = datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert rules.expire_and_remind(change.member, PROGRAM, later) is None, "one reminder per lot, not one per day"


def test_a_reminder_without_an_expiry_writes_no_ledger_entry():
    m = member(balance=20, lots={"2026-11": 20})
    change, reminders = rules.expire_and_remind(m, PROGRAM, DAY_AFTER_OCTOBER)
    assert change.entries == [] and len(reminders) == 1 and change.member.version == m.version


def test_next_due_is_the_reminder_then_the_expiry():
    m = member(lots={"2026-11": 20, "2027-03": 5})
    assert rules.next_due(m, PROGRAM) == end_of_month("2026-11") - __import__("datetime").timedelta(days=30)
    m.reminded_lots = ["2026-11"]
    assert rules.next_due(m, PROGRAM) == end_of_month("2026-11")
    assert rules.next_due(member(), PROGRAM) is None


def test_review_downgrades_one_level_at_a_time_and_once_a_month():
    gold = member(tier="Gold", qualifying={"2025-01": 5000})
    change = rules.review_tier(gold, PROGRAM, DAY_AFTER_OCTOBER)
    assert change.member.tier == "Silver" and change.tier_moves == [("m1", "Gold", "Silver")]
    assert change.member.tier_reviewed == "2026-11" and change.entries == []
    assert rules.review_tier(change.member, PROGRAM, DAY_AFTER_OCTOBER) is None
    steep = program(tier_review={"max_levels_down": 2})
    assert rules.review_tier(gold, steep, DAY_AFTER_OCTOBER).member.tier == "Bronze"


def test_review_keeps_a_tier_still_earned():
    silver = member(tier="Silver", qualifying={"2026-06": 150})
    change = rules.review_tier(silver, PROGRAM, DAY_AFTER_OCTOBER)
    assert change.member.tier == "Silver" and change.tier_moves == []
