"""Which campaigns an earn considers (and reads the limit counters of), and what it credits, on plain values."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain import basket, earning
from loyalty.domain.campaigns.document import parse_campaign
from loyalty.domain.campaigns.engine import CounterKey, Usage, evaluate, may_apply
from loyalty.domain.model import BasketItem, Member, Purchase
from loyalty.program import load_program
from loyalty.settings import DEFAULT_PROGRAM_FILE

PROGRAM = load_program(DEFAULT_PROGRAM_FILE)
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)  # a Wednesday afternoon
MEMBER = Member(member_id="m1", email="a@example.com", enrolled_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                channel="app", tier="Silver", referral_code="ABCD2345", purchases=3)

CONDITIONS = [
    None,
    {"all": [{"fact": "order.channel", "op": "eq", "value": "app"}]},
    {"all": [{"fact": "member.tier", "op": "eq", "value": "Gold"}]},
    {"any": [{"fact": "member.purchase_count", "op": "eq", "value": 0},
             {"fact": "order.eligible_minor", "op": "gte", "value": 1500}]},
    {"all": [{"fact": "order.item_count", "op": "lt", "value": 3}, {"fact": "member.tier", "op": "ne", "value": "Bronze"}]},
]
SCHEDULES = [None, {"days": ["wed"], "from": "14:00", "to": "17:00"}, {"days": ["mon"]}]
EFFECTS = [{"type": "bonus", "points": 10}, {"type": "multiply", "factor": "1.5"}, {"type": "per_item", "points": 2}]


@st.composite
def campaigns(draw):
    count = draw(st.integers(0, 25))
    return [parse_campaign({
        "campaign_id": f"c{index:02d}", "name": f"c{index}", "priority": draw(st.integers(0, 3)),
        "effect": draw(st.sampled_from(EFFECTS)), "conditions": draw(st.sampled_from(CONDITIONS)),
        "schedule": draw(st.sampled_from(SCHEDULES)),
        "applies_to": draw(st.sampled_from([None, {"categories": ["coffee"]}])),
        "limits": [{"per": "member", "period": "day", "max_points": 15}],
    }) for index in range(count)]


ITEMS = st.lists(st.builds(BasketItem, sku=st.just("s"), amount_minor=st.integers(0, 2000), quantity=st.integers(1, 3),
                           category=st.sampled_from(["coffee", "bakery", "gift_card"])), max_size=4)


@settings(max_examples=150, deadline=None)
@given(active=campaigns(), items=ITEMS, channel=st.sampled_from(["app", "store", None]), used=st.integers(0, 20))
def test_only_the_considered_campaigns_can_apply_and_the_breakdown_adds_up(active, items, channel, used):
    purchase = Purchase("t", max(1, sum(item.amount_minor for item in items)), "EUR", channel=channel, items=tuple(items))
    selection = earning.select_campaigns(active, PROGRAM, purchase, NOW)
    considered = {campaign.campaign_id for campaign in selection.considered}
    assert len(considered) <= earning.MAX_CAMPAIGNS_PER_PURCHASE and len(selection.counters) <= 4 * len(considered)
    day = NOW.date().isoformat()
    counters = {key: Usage(points=used) for key in selection.counters}
    change = earning.earn(MEMBER, PROGRAM, purchase, NOW, request_hash="h", campaigns=active, counters=counters)
    entry, award = change.entry, change.award
    assert entry.points == sum(line.points for line in entry.breakdown)
    assert {line.campaign_id for line in award.breakdown} <= considered
    assert {skip.campaign_id for skip in award.not_applied} | {line.campaign_id for line in award.breakdown} == {
        campaign.campaign_id for campaign in active}
    # may_apply is conservative: whatever the engine applies on its own, it admitted first
    alone = evaluate(active, purchase, MEMBER, {CounterKey(c.campaign_id, "member", day): Usage(points=used) for c in active},
                     NOW, time_zone=PROGRAM.time_zone, eligible=basket.eligible(purchase, PROGRAM.earn.excluded_categories),
                     points_per_unit=1, unit_minor=100)
    eligible = basket.eligible(purchase, PROGRAM.earn.excluded_categories)
    by_id = {campaign.campaign_id: campaign for campaign in active}
    for line in alone.breakdown:
        assert may_apply(by_id[line.campaign_id], purchase, eligible, NOW, time_zone=PROGRAM.time_zone,
                         points_per_unit=1, unit_minor=100)
    if len(alone.breakdown) <= earning.MAX_CAMPAIGNS_PER_PURCHASE and not selection.overflow:
        assert award.breakdown == alone.breakdown  # the bound changes nothing when it is not reached
    # every increment the earn writes keeps its counter within its ceiling
    for increment in earning.campaign_increments(award):
        if increment.max_points is not None:
            assert counters.get(increment.key, Usage()).points + increment.points <= increment.max_points


def test_the_campaigns_beyond_the_bound_are_reported_not_applied_with_the_reason():
    active = [parse_campaign({"campaign_id": f"c{index:02d}", "name": "c", "effect": {"type": "bonus", "points": 1}})
              for index in range(20)]
    change = earning.earn(MEMBER, PROGRAM, Purchase("t", 1000, "EUR"), NOW, request_hash="h", campaigns=active)
    assert [line.campaign_id for line in change.award.breakdown] == [f"c{index:02d}" for index in range(16)]
    assert [skip.campaign_id for skip in change.award.not_applied] == ["c16", "c17", "c18", "c19"]
    assert change.entry.points == 12 + 16  # base 10, Silver makes it 12, then 16 campaigns of 1
    totals = earning.campaign_increments(change.award)
    assert [(increment.key.per, increment.key.period, increment.points) for increment in totals] == [("campaign", "campaign", 1)] * 16
