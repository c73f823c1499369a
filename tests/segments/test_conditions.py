"""Member facts in conditions, the new ops, audiences, activation and holdout in the engine (pure, issue 22)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from loyalty.domain import basket
from loyalty.domain.campaigns.document import InvalidCampaign, parse_campaign
from loyalty.domain.campaigns.engine import evaluate
from loyalty.domain.holdout import held_out
from loyalty.domain.model import BasketItem, Member, Purchase
from loyalty.domain.segments import InvalidSegment, members_segments, parse_segment

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)


def member(member_id: str = "m1", **fields) -> Member:
    values = dict(member_id=member_id, email="", enrolled_at=datetime(2026, 1, 1, tzinfo=timezone.utc), channel="app",
                  tier="Bronze", referral_code="ABCD2345")
    values.update(fields)
    return Member(**values)


def campaign(campaign_id: str = "c1", **fields):
    return parse_campaign({"campaign_id": campaign_id, "name": campaign_id, "effect": {"type": "bonus", "points": 100},
                           **fields})


def run(campaigns, who: Member, segments: frozenset[str] = frozenset()):
    bought = Purchase("t1", 1000, "EUR", items=(BasketItem("x", 1000, 1, "coffee"),))
    return evaluate(campaigns, bought, who, {}, NOW, time_zone="UTC", eligible=basket.eligible(bought, frozenset()),
                    points_per_unit=1, unit_minor=100, segments=segments)


def when(fact: str, op: str, value=None):
    test = {"fact": fact, "op": op} | ({} if op in ("exists", "not_exists") else {"value": value})
    return campaign(conditions={"all": [test]})


def applies(conditions_campaign, who: Member) -> bool:
    return bool(run([conditions_campaign], who).breakdown)


CODE_DAY = datetime(2026, 11, 30).date().toordinal() - datetime(1970, 1, 1).date().toordinal()


@pytest.mark.parametrize("fact, op, value, fields, expected", [
    ("member.categories_90d", "contains", "coffee", {"categories": {"coffee": CODE_DAY}}, True),
    ("member.categories_90d", "contains", "tea", {"categories": {"coffee": CODE_DAY}}, False),
    ("member.categories_90d", "contains_any", ["tea", "coffee"], {"categories": {"coffee": CODE_DAY}}, True),
    ("member.categories_90d", "contains_any", ["tea"], {"categories": {"coffee": CODE_DAY}}, False),
    ("member.categories_90d", "contains", "coffee", {"categories": {"coffee": CODE_DAY - 90}}, False),  # too old
    ("member.attributes.vip", "exists", None, {"attributes": {"vip": False}}, True),
    ("member.attributes.vip", "exists", None, {}, False),
    ("member.attributes.vip", "not_exists", None, {}, True),
    ("member.attributes.vip", "not_exists", None, {"attributes": {"vip": True}}, False),
    ("member.attributes.vip", "eq", True, {"attributes": {"vip": True}}, True),
    ("member.attributes.vip", "eq", 1, {"attributes": {"vip": True}}, False),  # true is not 1
    ("member.attributes.visits", "gte", 3, {"attributes": {"visits": 3}}, True),
    ("member.attributes.visits", "gte", 3, {"attributes": {"visits": "many"}}, False),  # text never compares
    ("member.attributes.visits", "ne", 3, {}, False),  # a fact the member lacks fails every op but not_exists
    ("member.marketing_opt_in", "eq", True, {"marketing_opt_in": True}, True),
    ("member.spend_minor", "gt", 999, {"spend_minor": 1000}, True),
    ("member.days_since_last_purchase", "exists", None, {}, False),
    ("member.redemptions_count", "eq", 0, {}, True),
    ("member.rfm.r", "exists", None, {}, False),  # no boundaries published: rfm is null
])
def test_member_facts_and_the_new_ops(fact, op, value, fields, expected):
    assert applies(when(fact, op, value), member(**fields)) is expected


@pytest.mark.parametrize("test", [
    {"fact": "member.tier", "op": "contains", "value": "Gold"},
    {"fact": "member.categories_90d", "op": "eq", "value": "coffee"},
    {"fact": "member.categories_90d", "op": "contains_any", "value": "coffee"},
    {"fact": "member.spend_minor", "op": "exists", "value": 1},
    {"fact": "member.marketing_opt_in", "op": "gt", "value": 1},
    {"fact": "member.marketing_opt_in", "op": "eq", "value": "yes"},
    {"fact": "member.attributes.Bad", "op": "eq", "value": 1},
    {"fact": "member.unknown", "op": "eq", "value": 1},
    {"fact": "member.attributes.x", "op": "gt", "value": "a"},
])
def test_a_test_the_engine_could_not_evaluate_is_refused(test):
    with pytest.raises(InvalidCampaign):
        campaign(conditions={"all": [test]})


def test_audience_activation_and_holdout_in_the_engine():
    who = member("m-audience")
    for_lapsed = campaign("for-lapsed", audience={"segments": ["lapsed"]})
    not_vip = campaign("not-vip", audience={"exclude_segments": ["vip"]})
    opt_in = campaign("opt-in", activation="required")
    award = run([for_lapsed, not_vip, opt_in], who, frozenset({"vip"}))
    assert {entry.campaign_id: entry.reason for entry in award.not_applied} == {
        "for-lapsed": "NOT_IN_AUDIENCE", "not-vip": "NOT_IN_AUDIENCE", "opt-in": "NOT_ACTIVATED"}
    who.activated = {"opt-in": NOW}
    award = run([for_lapsed, not_vip, opt_in], who, frozenset({"lapsed"}))
    assert [line.campaign_id for line in award.breakdown] == ["for-lapsed", "not-vip", "opt-in"]
    out = next(f"m{index}" for index in range(1000) if held_out("half", f"m{index}", 50))
    award = run([campaign("half", holdout_percent=50)], member(out))
    assert award.breakdown == () and award.not_applied == (), "a held-out member is never told"


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 50), st.text("abcdef0123456789", min_size=1, max_size=12))
def test_holdout_is_stable_and_its_share_is_within_two_points(percent, salt):
    campaign_id = f"c-{salt}"
    ids = [f"m{salt}{index}" for index in range(10_000)]
    out = [member_id for member_id in ids if held_out(campaign_id, member_id, percent)]
    assert abs(len(out) / len(ids) * 100 - percent) <= 2
    assert out == [member_id for member_id in ids if held_out(campaign_id, member_id, percent)], "stable"
    assert not any(held_out(campaign_id, member_id, 0) for member_id in ids[:500])


SEGMENTS = [
    parse_segment({"segment_id": "big", "name": "big",
                   "conditions": {"all": [{"fact": "member.spend_90d_minor", "op": "gte", "value": 5000}]}}),
    parse_segment({"segment_id": "coffee-or-vip", "name": "c",
                   "conditions": {"any": [{"fact": "member.categories_90d", "op": "contains", "value": "coffee"},
                                          {"fact": "member.attributes.vip", "op": "eq", "value": True}]}}),
    parse_segment({"segment_id": "quiet", "name": "q",
                   "conditions": {"all": [{"fact": "member.days_since_last_purchase", "op": "gt", "value": 30},
                                          {"fact": "member.attributes.vip", "op": "not_exists"}]}}),
]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.sampled_from(["coffee", "tea", "cake"]), unique=True),
       st.none() | st.booleans(), st.none() | st.integers(0, 100))
def test_segment_membership_is_what_its_rule_says(spend, categories, vip, days_since):
    facts = {"member.spend_90d_minor": spend, "member.categories_90d": tuple(categories),
             "member.days_since_last_purchase": days_since}
    if vip is not None:
        facts["member.attributes.vip"] = vip
    expected = {name for name, inside in (
        ("big", spend >= 5000),
        ("coffee-or-vip", "coffee" in categories or vip is True),
        ("quiet", days_since is not None and days_since > 30 and vip is None),
    ) if inside}
    assert members_segments(SEGMENTS, facts) == expected


def test_a_segment_over_an_order_fact_is_refused():
    with pytest.raises(InvalidSegment) as refused:
        parse_segment({"segment_id": "s", "name": "s",
                       "conditions": {"any": [{"fact": "order.channel", "op": "eq", "value": "app"}]}})
    assert refused.value.details["errors"][0]["field"] == "conditions"


def test_activation_rules():
    from datetime import timedelta

    from loyalty.domain import errors, offers

    who = member("m-act")
    ending = campaign("ending", activation="required", ends_at=(NOW + timedelta(hours=1)).isoformat())
    activated = offers.activate(who, "ending", [ending], [], NOW, "UTC")
    assert activated.activated == {"ending": NOW} and activated.version == who.version + 1
    assert offers.activate(activated, "ending", [ending], [], NOW + timedelta(hours=2), "UTC") is None, "idempotent"
    with pytest.raises(errors.CampaignEnded):
        offers.activate(who, "ending", [ending], [], NOW + timedelta(hours=1), "UTC")
    with pytest.raises(errors.OfferNotFound):
        offers.activate(who, "other", [ending], [], NOW, "UTC")
    lapsed_only = campaign("lapsed-only", activation="required", audience={"segments": ["lapsed"]})
    with pytest.raises(errors.OfferNotFound):
        offers.activate(who, "lapsed-only", [lapsed_only], [], NOW, "UTC")
    stale = member("m-act", activated={"gone": NOW - timedelta(days=9)})
    assert offers.activate(stale, "ending", [ending], [], NOW, "UTC").activated == {"ending": NOW}, (
        "activations of campaigns no longer active are dropped")
