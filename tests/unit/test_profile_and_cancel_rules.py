"""Profile updates and cancelled redemptions as plain rules: no DynamoDB, no HTTP."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from loyalty.domain import errors, membership, redeeming, stats
from loyalty.domain.model import Redemption
from tests.unit.test_rules import NOW, member


def redemption(lots: dict[str, int], reward_id: str | None = "tea") -> Redemption:
    return Redemption("m1", "e_1", "key-1", sum(lots.values()), lots, reward_id, "VOUCHER123", False, NOW)


def test_only_the_fields_that_change_are_changed_and_the_version_moves():
    before = member(name="Ann", phone="+34 600", marketing_opt_in=False, version=4)
    update = membership.update_profile(before, {"name": "Ann", "phone": None, "marketing_opt_in": True, "tier": "Gold"}, NOW,
                                  by_member=True)
    assert update.fields == ["phone", "marketing_opt_in"] and update.consent_changed and update.email_before is None
    assert (update.member.phone, update.member.marketing_opt_in, update.member.tier) == (None, True, "Bronze")
    assert (update.member.version, update.member.profile_updated_at) == (5, NOW)
    assert (before.phone, before.version) == ("+34 600", 4), "the member read is left as it was"


def test_nothing_to_change_is_none():
    assert membership.update_profile(member(name="Ann"), {"name": "Ann", "email": " A@Example.com "}, NOW, by_member=True) is None


def test_a_new_email_is_kept_lower_case_and_names_the_one_it_replaces():
    update = membership.update_profile(member(), {"email": "New@Example.com"}, NOW, by_member=False)
    assert (update.member.email, update.email_before, update.fields) == ("new@example.com", "a@example.com", ["email"])


def test_a_member_sets_a_birthday_once_staff_may_correct_it():
    unset = member()
    assert membership.update_profile(unset, {"birthday": date(1990, 5, 1)}, NOW, by_member=True).member.birthday == date(1990, 5, 1)
    set_ = member(birthday=date(1990, 5, 1))
    for value in (date(1991, 5, 1), None):
        with pytest.raises(errors.BirthdayAlreadySet):
            membership.update_profile(set_, {"birthday": value}, NOW, by_member=True)
        assert membership.update_profile(set_, {"birthday": value}, NOW, by_member=False).member.birthday == value
    assert membership.update_profile(set_, {"birthday": date(1990, 5, 1)}, NOW, by_member=True) is None


def test_a_cancel_gives_back_to_the_lots_not_expired_and_forfeits_the_rest():
    # NOW is 2026-11-23: the lot of 2026-10 has expired, the one of 2026-11 has not (it ends on the 30th).
    before = member(balance=30, lots={"2026-11": 30}, points_redeemed=100, version=7)
    change = redeeming.cancel_redemption(before, redemption({"2026-10": 40, "2026-11": 60}), NOW)
    after, entry = change.member, change.entry
    assert after.lots == {"2026-11": 90} and after.balance == 90
    assert (after.points_redeemed, after.points_expired) == (0, 40)
    assert (entry.type, entry.ref.kind, entry.ref.id, entry.points, entry.points_forfeited) == ("cancel", "cancel", "e_1", 60, 40)
    assert (entry.redemption_id, entry.reward_id, entry.voucher_code, entry.balance_after, entry.seq) == (
        "e_1", "tea", "VOUCHER123", 90, 8)
    assert before.lots == {"2026-11": 30}


def test_a_cancel_on_the_last_instant_of_a_lot_s_month_still_gives_it_back():
    last_instant = datetime(2026, 11, 30, 23, 59, 59, tzinfo=timezone.utc)
    change = redeeming.cancel_redemption(member(), redemption({"2026-11": 10}), last_instant)
    assert (change.entry.points, change.entry.points_forfeited) == (10, 0)


def test_a_blocked_member_s_redemption_may_be_cancelled():
    change = redeeming.cancel_redemption(member(status="blocked"), redemption({"2027-01": 10}), NOW)
    assert change.member.balance == 10


def test_the_report_counts_a_cancel_as_redeemed_no_more_and_forfeited_points_as_expired():
    change = redeeming.cancel_redemption(member(points_redeemed=100), redemption({"2026-10": 40, "2026-11": 60}), NOW)
    deltas = stats.counter_deltas(change.entries, time_zone="UTC")
    day = deltas[(stats.Bucket(stats.DAY, "2026-11-23"), "m1")]
    assert (day["points_redeemed"], day["points_expired"], day[stats.NET_ATTRIBUTE]) == (-100, 40, 60)
    assert "points_issued" not in day, "giving points back issues none"
