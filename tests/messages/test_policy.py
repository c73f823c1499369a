"""Which events send which message, consent, and the weekly cap over a simulated month."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.messages.kinds import KINDS, MARKETING, SERVICE, triggered
from loyalty.messages.policy import decide

START = datetime(2026, 11, 2, tzinfo=timezone.utc)


def test_the_six_kinds_and_their_categories():
    assert {name: kind.category for name, kind in KINDS.items()} == {
        "welcome": SERVICE, "points_expiring": SERVICE, "tier_changed": SERVICE, "reward_redeemed": SERVICE,
        "birthday": MARKETING, "offer_available": MARKETING}


def test_events_trigger_their_kind_with_its_values():
    assert triggered("MemberEnrolled", {"event_id": "e1", "member_id": "m", "points_balance": 50}).values == {"points": 50}
    soon = triggered("PointsExpiringSoon", {"event_id": "e2", "member_id": "m", "points": 300,
                                            "expires_at": "2027-11-30T23:59:59Z"})
    assert (soon.kind.name, soon.values) == ("points_expiring", {"points": 300, "expires_on": "2027-11-30"})
    tier = triggered("TierChanged", {"event_id": "e3", "member_id": "m", "from": "Silver", "to": "Gold"})
    assert (tier.kind.name, tier.values) == ("tier_changed", {"tier": "Gold", "previous_tier": "Silver"})
    redeemed = triggered("PointsRedeemed", {"event_id": "e4", "member_id": "m", "points": 150, "reward_id": "r",
                                            "voucher_code": "K7QF4M2XPA"})
    assert redeemed.kind.name == "reward_redeemed" and redeemed.values["voucher_code"] == "K7QF4M2XPA"
    assert triggered("PointsRedeemed", {"event_id": "e5", "member_id": "m", "points": 100, "voucher_code": None}) is None
    assert triggered("PointsEarned", {"event_id": "e6", "member_id": "m"}) is None
    assert triggered("MemberEnrolled", {"member_id": "m"}) is None  # no event id: nothing to send once


def test_service_messages_need_no_consent_marketing_ones_do_and_the_erased_get_nothing():
    for name, kind in KINDS.items():
        decision = decide(kind, opted_in=False, erased=False, marketing_sent=[], now=START)
        assert decision.send is (kind.category == SERVICE), name
        assert not decide(kind, opted_in=True, erased=True, marketing_sent=[], now=START).send


@settings(max_examples=60, deadline=None)
@given(hours=st.lists(st.integers(0, 30 * 24), min_size=0, max_size=40), per_week=st.integers(1, 4),
       opted_in=st.booleans())
def test_the_weekly_cap_over_a_simulated_month(hours, per_week, opted_in):
    """Marketing messages wanted at random hours of a month: what is sent never exceeds `per_week` in any 7 days,
    and a message is refused only when consent is missing or that many went out in the 7 days before."""
    sent: list[datetime] = []
    for hour in sorted(hours):
        now = START + timedelta(hours=hour)
        decision = decide(KINDS["birthday"], opted_in=opted_in, erased=False, marketing_sent=sent, now=now,
                          per_week=per_week)
        in_window = [at for at in sent if now - timedelta(days=7) < at <= now]
        if not opted_in:
            assert (decision.send, decision.reason) == (False, "no_consent")
        elif len(in_window) >= per_week:
            assert (decision.send, decision.reason) == (False, "weekly_cap")
        else:
            assert decision.send
        if decision.send:
            sent.append(now)
    for at in sent:  # independently: every 7-day window holds at most per_week
        assert sum(1 for other in sent if at <= other < at + timedelta(days=7)) <= per_week
    assert opted_in or not sent


def test_the_default_cap_is_two_a_week():
    sent = [START, START + timedelta(days=1)]
    assert not decide(KINDS["offer_available"], opted_in=True, erased=False, marketing_sent=sent,
                      now=START + timedelta(days=6)).send
    assert decide(KINDS["offer_available"], opted_in=True, erased=False, marketing_sent=sent,
                  now=START + timedelta(days=7, seconds=1)).send
