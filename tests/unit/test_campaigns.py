"""Campaign documents and the campaign engine, with plain values: no DynamoDB, no HTTP, no clock."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from loyalty.domain import basket
from loyalty.domain.campaigns.document import Campaign, InvalidCampaign, parse_campaign
from loyalty.domain.campaigns.engine import CampaignPoints, CounterKey, Increment, Limited, NotApplied, Usage, counter_keys, evaluate
from loyalty.domain.campaigns.shards import share, spread, stored_keys, totals
from loyalty.domain.model import BasketItem, Member, Purchase

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)  # a Wednesday
EXCLUDED = frozenset({"gift_card", "tax"})

API_EXAMPLE = {
    "campaign_id": "coffee-double",
    "name": "Double points on coffee",
    "description": "Coffee earns double points on weekday afternoons.",
    "starts_at": "2026-12-01T00:00:00Z", "ends_at": None,
    "schedule": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "14:00", "to": "17:00"},
    "conditions": {"all": [{"fact": "order.channel", "op": "in", "value": ["app", "store"]},
                           {"fact": "order.eligible_minor", "op": "gte", "value": 500}]},
    "applies_to": {"categories": ["coffee"], "skus": []},
    "effect": {"type": "multiply", "factor": "2"},
    "limits": [{"per": "member", "period": "day", "max_points": 200},
               {"per": "campaign", "period": "campaign", "max_points": 100000}],
    "priority": 100,
    "exclusive_group": None,
}


def campaign(campaign_id: str = "c1", **fields) -> Campaign:
    document = {"campaign_id": campaign_id, "name": campaign_id, "effect": {"type": "bonus", "points": 100}}
    document.update(fields)
    return parse_campaign(document)


def test_condition(fact: str, op: str, value) -> Campaign:
    return campaign(conditions={"all": [{"fact": fact, "op": op, "value": value}]})


test_condition.__test__ = False  # a helper, not a test


def member(**fields) -> Member:
    values = dict(member_id="m1", email="a@example.com", enrolled_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                  channel="app", tier="Bronze", referral_code="ABCD2345")
    values.update(fields)
    return Member(**values)


def purchase(amount_minor: int = 1000, *items: BasketItem, **fields) -> Purchase:
    return Purchase("t1", amount_minor, "EUR", items=items, **fields)


def run(campaigns, bought: Purchase | None = None, who: Member | None = None, counters=None, now: datetime = NOW,
        time_zone: str = "UTC", points_per_unit: int = 1):
    bought = bought or purchase()
    return evaluate(
        campaigns, bought, who or member(), counters or {}, now, time_zone=time_zone,
        eligible=basket.eligible(bought, EXCLUDED), points_per_unit=points_per_unit, unit_minor=100,
    )


def applied(award) -> dict[str, int]:
    return {line.campaign_id: line.points for line in award.breakdown}


def reasons(award) -> dict[str, str]:
    return {entry.campaign_id: entry.reason for entry in award.not_applied}


# ------------------------------------------------------------------ documents


def test_the_api_example_parses_into_frozen_values_and_round_trips():
    parsed = parse_campaign(API_EXAMPLE)
    assert parsed.effect.factor == 2 and parsed.schedule.from_ == "14:00"
    assert parsed.conditions.all[0].value == ("app", "store")
    document = parsed.model_dump(mode="json")
    assert document["effect"] == {"type": "multiply", "factor": "2"}  # exact decimal, as a string
    assert document["schedule"] == API_EXAMPLE["schedule"]
    assert document["conditions"] == API_EXAMPLE["conditions"]  # no empty keys added
    assert parse_campaign(document) == parsed
    with pytest.raises(ValidationError):
        parsed.priority = 1


def test_defaults_of_an_optional_part():
    parsed = campaign(schedule={"days": ["sat"]})
    assert (parsed.schedule.from_, parsed.schedule.to) == ("00:00", "24:00")
    assert campaign(schedule={"from": "09:00"}).schedule.days == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert (parsed.priority, parsed.limits, parsed.conditions, parsed.applies_to) == (0, (), None, None)


def test_unknown_fields_are_ignored():
    assert campaign(colour="red", effect={"type": "bonus", "points": 5, "note": "x"}).effect.points == 5


def test_three_levels_of_groups_are_allowed():
    leaf = {"fact": "order.channel", "op": "eq", "value": "app"}
    parsed = campaign(conditions={"all": [{"any": [{"all": [leaf]}]}]})
    assert parsed.conditions.depth == 3


LEAF = {"fact": "order.channel", "op": "eq", "value": "app"}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"conditions": {"all": [{"fact": "order.colour", "op": "eq", "value": "x"}]}}, "conditions.all.0.fact", "Input should be"),
        ({"conditions": {"all": [{"fact": "order.channel", "op": "like", "value": "x"}]}}, "conditions.all.0.op", "Input should be"),
        ({"conditions": {"all": [{"any": [{"all": [{"any": [LEAF]}]}]}]}}, "conditions", "all/any nest 4 levels deep; at most 3"),
        ({"conditions": LEAF}, "conditions", "must be a group"),
        ({"conditions": {"all": []}}, "conditions", "all and any take 1 to 50 conditions"),
        ({"conditions": {"all": [LEAF] * 51}}, "conditions", "all and any take 1 to 50 conditions"),
        ({"conditions": {"all": [LEAF], "any": [LEAF]}}, "conditions", "a condition is either"),
        ({"conditions": {"all": [{"fact": "order.channel", "op": "eq"}]}}, "conditions.all.0", "eq on order.channel needs a string"),
        ({"conditions": {"all": [{"fact": "order.channel", "value": "x"}]}}, "conditions.all.0", "a condition needs fact, op and value"),
        ({"conditions": {"all": [{"fact": "order.channel", "op": "gt", "value": "a"}]}}, "conditions.all.0", "gt compares numbers"),
        ({"conditions": {"all": [{"fact": "order.eligible_minor", "op": "gte", "value": "500"}]}}, "conditions.all.0", "gte on order.eligible_minor needs a number"),
        ({"conditions": {"all": [{"fact": "order.eligible_minor", "op": "gte", "value": 5.0}]}}, "conditions.all.0", "gte on order.eligible_minor needs a number"),
        ({"conditions": {"all": [{"fact": "order.item_count", "op": "eq", "value": True}]}}, "conditions.all.0", "eq on order.item_count needs a number"),
        ({"conditions": {"all": [{"fact": "order.store_id", "op": "eq", "value": "s\x001"}]}}, "conditions.all.0", "eq on order.store_id needs a string"),
        ({"conditions": {"all": [{"fact": "order.store_id", "op": "eq", "value": ""}]}}, "conditions.all.0", "eq on order.store_id needs a string"),
        ({"conditions": {"all": [{"fact": "member.tier", "op": "in", "value": "Gold"}]}}, "conditions.all.0", "in on member.tier needs a list of 1 to 100 strings"),
        ({"conditions": {"all": [{"fact": "member.tier", "op": "in", "value": []}]}}, "conditions.all.0", "in on member.tier needs a list of 1 to 100 strings"),
        ({"conditions": {"all": [{"fact": "member.tier", "op": "not_in", "value": [1]}]}}, "conditions.all.0", "not_in on member.tier needs a list of 1 to 100 strings"),
        ({"conditions": {"all": [{"fact": "order.item_count", "op": "in", "value": ["1"]}]}}, "conditions.all.0", "in on order.item_count needs a list of 1 to 100 numbers"),
        ({"effect": {"type": "triple"}}, "effect", "Input tag 'triple' found using 'type' does not match"),
        ({"effect": {"points": 5}}, "effect", "Unable to extract tag"),
        ({"effect": {"type": "multiply", "factor": 2}}, "effect.multiply.factor", 'must be a decimal string such as "2" or "1.5"'),
        ({"effect": {"type": "multiply", "factor": "two"}}, "effect.multiply.factor", 'must be a decimal string such as "2" or "1.5"'),
        ({"effect": {"type": "multiply", "factor": "1.555"}}, "effect.multiply.factor", 'must be a decimal string such as "2" or "1.5"'),
        ({"effect": {"type": "multiply", "factor": "1"}}, "effect.multiply.factor", "Input should be greater than 1"),
        ({"effect": {"type": "multiply", "factor": "10.01"}}, "effect.multiply.factor", "Input should be less than or equal to 10"),
        ({"effect": {"type": "bonus", "points": 0}}, "effect.bonus.points", "Input should be greater than 0"),
        ({"effect": {"type": "bonus", "points": "5"}}, "effect.bonus.points", "Input should be a valid integer"),
        ({"effect": {"type": "per_item", "points": 1.5}}, "effect.per_item.points", "Input should be a valid integer"),
        ({"effect": {"type": "per_amount", "points": 5}}, "effect.per_amount.unit_minor", "Field required"),
        ({"limits": [{"per": "member", "period": "day"}]}, "limits.0", "a limit has exactly one of max_points and max_times"),
        ({"limits": [{"per": "member", "period": "day", "max_points": 5, "max_times": 1}]}, "limits.0", "a limit has exactly one of max_points and max_times"),
        ({"limits": [{"per": "store", "period": "day", "max_points": 5}]}, "limits.0.per", "Input should be"),
        ({"limits": [{"per": "member", "period": "week", "max_points": 5}]}, "limits.0.period", "Input should be"),
        ({"limits": [{"per": "member", "period": "day", "max_times": 0}]}, "limits.0.max_times", "Input should be greater than 0"),
        ({"schedule": {"days": ["monday"]}}, "schedule.days.0", "Input should be"),
        ({"schedule": {"days": []}}, "schedule.days", "Tuple should have at least 1 item"),
        ({"schedule": {"days": ["mon", "mon"]}}, "schedule", "days must not repeat"),
        ({"schedule": {"from": "17:00", "to": "14:00"}}, "schedule", "from (17:00) must be before to (14:00)"),
        ({"schedule": {"from": "14:00", "to": "14:00"}}, "schedule", "from (14:00) must be before to (14:00)"),
        ({"schedule": {"from": "9:00"}}, "schedule.from", "String should match pattern"),
        ({"schedule": {"to": "24:01"}}, "schedule.to", "String should match pattern"),
        ({"starts_at": "2026-12-01T00:00:00"}, "starts_at", "Input should have timezone info"),
        ({"starts_at": 1_700_000_000}, "starts_at", "must be a string"),
        ({"starts_at": "2026-12-02T00:00:00Z", "ends_at": "2026-12-02T00:00:00Z"}, "ends_at", "must be after starts_at"),
        ({"applies_to": {"categories": [], "skus": []}}, "applies_to", "applies_to names no category and no sku"),
        ({"campaign_id": "Coffee Double"}, "campaign_id", "String should match pattern"),
        ({"name": ""}, "name", "String should have at least 1 character"),
        ({"name": "a\x00b"}, "name", "String should match pattern"),
        ({"priority": "1"}, "priority", "Input should be a valid integer"),
        ({"exclusive_group": "A B"}, "exclusive_group", "String should match pattern"),
    ],
)
def test_an_invalid_document_is_refused_naming_the_field(fields, field, message):
    with pytest.raises(InvalidCampaign) as refused:
        campaign(**fields)
    problems = refused.value.details["errors"]
    assert problems[0]["field"] == field, problems
    assert problems[0]["message"].startswith(message)
    assert (refused.value.status, refused.value.code) == (422, "VALIDATION_ERROR")
    assert field in refused.value.message


def test_every_problem_is_listed():
    with pytest.raises(InvalidCampaign) as refused:
        parse_campaign({"campaign_id": "a", "effect": {"type": "bonus", "points": 0}})
    assert {problem["field"] for problem in refused.value.details["errors"]} == {"name", "effect.bonus.points"}


def test_a_document_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidCampaign) as refused:
        parse_campaign(["coffee"])
    assert refused.value.details["errors"][0]["field"] == "campaign"


def test_the_size_bounds_of_a_condition_value():
    assert test_condition("order.store_id", "eq", "7").conditions.all[0].value == "7"
    assert test_condition("order.store_id", "eq", "s" * 128).conditions.all[0].value == "s" * 128
    assert len(test_condition("order.item_count", "in", list(range(100))).conditions.all[0].value) == 100
    for fact, op, value in [("order.store_id", "eq", "s" * 129), ("order.item_count", "in", list(range(101)))]:
        with pytest.raises(InvalidCampaign):
            test_condition(fact, op, value)


# ------------------------------------------------------------------ facts and operators


@pytest.mark.parametrize(
    ("op", "value", "applies"),
    [
        ("eq", 500, True), ("eq", 499, False), ("ne", 499, True), ("ne", 500, False),
        ("gt", 499, True), ("gt", 500, False), ("gte", 500, True), ("gte", 501, False),
        ("lt", 501, True), ("lt", 500, False), ("lte", 500, True), ("lte", 499, False),
        ("in", [1, 500], True), ("in", [499, 501], False), ("not_in", [499], True), ("not_in", [500], False),
    ],
)
def test_every_operator_at_its_boundary(op, value, applies):
    award = run([test_condition("order.eligible_minor", op, value)], purchase(500))
    assert applied(award) == ({"c1": 100} if applies else {})
    if not applies:
        shown = "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)
        assert reasons(award) == {"c1": f"order.eligible_minor {op} {shown}: was 500"}


@pytest.mark.parametrize(
    ("fact", "op", "value", "bought", "who"),
    [
        ("order.channel", "eq", "app", purchase(channel="app"), member()),
        ("order.store_id", "in", ["s1", "s2"], purchase(store_id="s2"), member()),
        ("order.eligible_minor", "eq", 300, purchase(5300, BasketItem("x", 300), BasketItem("g", 5000, 1, "gift_card")), member()),
        ("order.item_count", "eq", 5, purchase(1000, BasketItem("x", 500, 2), BasketItem("g", 500, 3, "gift_card")), member()),
        ("order.item_count", "eq", 0, purchase(1000), member()),
        ("member.tier", "eq", "Gold", purchase(), member(tier="Gold")),
        ("member.purchase_count", "eq", 0, purchase(), member(purchases=0)),
        ("member.purchase_count", "gte", 3, purchase(), member(purchases=3)),
        ("member.enrolled_days", "eq", 335, purchase(), member()),  # 2026-01-01 to 2026-12-02
        ("member.days_from_birthday", "eq", 0, purchase(), member(birthday=date(1990, 12, 2))),
        ("member.days_from_birthday", "eq", 1, purchase(), member(birthday=date(1990, 12, 3))),
        ("member.days_from_birthday", "eq", 2, purchase(), member(birthday=date(1990, 11, 30))),
        ("member.days_from_birthday", "eq", 31, purchase(), member(birthday=date(1990, 1, 2))),  # next year's is nearest
        ("member.days_from_birthday", "eq", 3, purchase(occurred_at=datetime(2027, 1, 2, tzinfo=timezone.utc)),
         member(birthday=date(1990, 12, 30))),  # last year's is nearest
    ],
)
def test_every_fact_is_seen(fact, op, value, bought, who):
    assert applied(run([test_condition(fact, op, value)], bought, who)) == {"c1": 100}


def test_a_fact_the_purchase_does_not_carry_fails_every_condition_on_it():
    for op, value in [("eq", "app"), ("ne", "app"), ("in", ["app"]), ("not_in", ["app"])]:
        award = run([test_condition("order.channel", op, value)], purchase(channel=None))
        assert reasons(award)["c1"].endswith(": was none")
    award = run([test_condition("member.days_from_birthday", "gte", 0)], who=member(birthday=None))
    assert reasons(award) == {"c1": "member.days_from_birthday gte 0: was none"}


def test_text_facts_compare_exactly():
    award = run([test_condition("order.channel", "in", ["app", "store"])], purchase(channel="web"))
    assert reasons(award) == {"c1": "order.channel in [app, store]: was web"}
    assert applied(run([test_condition("member.tier", "ne", "Gold")], who=member(tier="Silver"))) == {"c1": 100}


def test_enrolled_days_count_local_days():
    enrolled = member(enrolled_at=datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc))
    late = purchase(occurred_at=datetime(2026, 12, 2, 0, 30, tzinfo=timezone.utc))
    rule = [test_condition("member.enrolled_days", "eq", 1)]
    assert applied(run(rule, late, enrolled)) == {"c1": 100}  # UTC: the next day
    # New York: both at the evening of 1 December.
    assert reasons(run(rule, late, enrolled, time_zone="America/New_York")) == {"c1": "member.enrolled_days eq 1: was 0"}
    # 02:00 UTC on 2 December is still 1 December in New York: the enrolment's day is local too.
    evening = member(enrolled_at=datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc))
    assert applied(run(rule, purchase(), evening, time_zone="America/New_York")) == {"c1": 100}


def test_the_birthday_is_the_local_day():
    # 23:30 UTC on 2 December is 00:30 on 3 December in Berlin: a 3 December birthday is that day there.
    at = purchase(occurred_at=datetime(2026, 12, 2, 23, 30, tzinfo=timezone.utc))
    who = member(birthday=date(1990, 12, 3))
    rule = [test_condition("member.days_from_birthday", "eq", 0)]
    assert applied(run(rule, at, who, now=at.occurred_at, time_zone="Europe/Berlin")) == {"c1": 100}
    assert reasons(run(rule, at, who, now=at.occurred_at)) == {"c1": "member.days_from_birthday eq 0: was 1"}


@pytest.mark.parametrize(
    ("today", "days"),
    [(date(2027, 2, 28), 0), (date(2027, 3, 1), 1), (date(2028, 2, 29), 0), (date(2028, 2, 28), 1)],
)
def test_a_29_february_birthday_falls_on_28_february_in_other_years(today, days):
    at = datetime.combine(today, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=12)
    award = run([test_condition("member.days_from_birthday", "eq", days)], purchase(occurred_at=at),
                member(birthday=date(2000, 2, 29)), now=at)
    assert applied(award) == {"c1": 100}


def test_all_names_the_first_failing_condition():
    rule = campaign(conditions={"all": [
        {"fact": "order.channel", "op": "eq", "value": "app"},
        {"fact": "order.eligible_minor", "op": "gte", "value": 500},
        {"fact": "member.tier", "op": "eq", "value": "Gold"},
    ]})
    assert reasons(run([rule], purchase(320, channel="app"))) == {"c1": "order.eligible_minor gte 500: was 320"}


def test_any_holds_when_one_holds_and_otherwise_names_each():
    rule = campaign(conditions={"any": [
        {"fact": "order.channel", "op": "eq", "value": "app"},
        {"fact": "member.tier", "op": "eq", "value": "Gold"},
    ]})
    assert applied(run([rule], purchase(channel="store"), member(tier="Gold"))) == {"c1": 100}
    assert applied(run([rule], purchase(channel="app"), member(tier="Bronze"))) == {"c1": 100}
    assert reasons(run([rule], purchase(channel="store"))) == {
        "c1": "none of: order.channel eq app: was store; member.tier eq Gold: was Bronze"
    }


def test_nested_groups():
    rule = campaign(conditions={"all": [
        {"fact": "order.eligible_minor", "op": "gte", "value": 500},
        {"any": [{"fact": "order.channel", "op": "eq", "value": "app"},
                 {"all": [{"fact": "member.tier", "op": "eq", "value": "Gold"},
                          {"fact": "member.purchase_count", "op": "gt", "value": 0}]}]},
    ]})
    assert applied(run([rule], purchase(500, channel="store"), member(tier="Gold", purchases=1))) == {"c1": 100}
    assert "member.purchase_count gt 0: was 0" in reasons(run([rule], purchase(500, channel="store"), member(tier="Gold")))["c1"]


# ------------------------------------------------------------------ dates and schedule


def test_starts_at_is_included_and_ends_at_excluded():
    window = campaign(starts_at="2026-12-02T15:00:00Z", ends_at="2026-12-02T16:00:00Z")
    second = timedelta(seconds=1)
    assert applied(run([window], now=NOW)) == {"c1": 100}
    assert reasons(run([window], now=NOW - second)) == {
        "c1": "starts_at 2026-12-02T15:00:00+00:00: was 2026-12-02T14:59:59+00:00"
    }
    assert applied(run([window], now=NOW + timedelta(hours=1) - second)) == {"c1": 100}
    assert reasons(run([window], now=NOW + timedelta(hours=1)))["c1"].startswith("ends_at 2026-12-02T16:00:00+00:00: was")


def test_the_purchase_is_judged_at_its_own_time():
    window = campaign(ends_at="2026-12-02T12:00:00Z")
    assert applied(run([window], purchase(occurred_at=NOW - timedelta(hours=4)), now=NOW)) == {"c1": 100}


@pytest.mark.parametrize(
    ("moment", "applies"),
    [("13:59:59", False), ("14:00:00", True), ("16:59:59", True), ("17:00:00", False)],
)
def test_the_schedule_window_includes_from_and_excludes_to(moment, applies):
    at = datetime.combine(date(2026, 12, 2), datetime.strptime(moment, "%H:%M:%S").time(), tzinfo=timezone.utc)
    award = run([campaign(schedule={"days": ["wed"], "from": "14:00", "to": "17:00"})], now=at)
    assert applied(award) == ({"c1": 100} if applies else {})
    if not applies:
        assert reasons(award) == {"c1": f"schedule 14:00-17:00: was {moment[:5]}"}


def test_the_schedule_is_local():
    # 13:30 UTC is 14:30 in Berlin on Wednesday; 23:30 UTC Wednesday is Thursday there.
    rule = [campaign(schedule={"days": ["wed"], "from": "14:00", "to": "24:00"})]
    assert applied(run(rule, now=NOW.replace(hour=13, minute=30), time_zone="Europe/Berlin")) == {"c1": 100}
    assert reasons(run(rule, now=NOW.replace(hour=13, minute=30))) == {"c1": "schedule 14:00-24:00: was 13:30"}
    assert applied(run(rule, now=NOW.replace(hour=23, minute=59))) == {"c1": 100}
    assert reasons(run(rule, now=NOW.replace(hour=23, minute=30), time_zone="Europe/Berlin")) == {
        "c1": "schedule days [wed]: was thu"
    }


# ------------------------------------------------------------------ effects

COFFEE = BasketItem("espresso", 450, 3, "coffee")
CAKE = BasketItem("cake", 350, 1, "food")
CARD = BasketItem("card-50", 5000, 1, "gift_card")


def test_multiply_adds_factor_minus_one_times_the_matching_base_points():
    rule = campaign(effect={"type": "multiply", "factor": "2"}, applies_to={"categories": ["coffee"]})
    assert applied(run([rule], purchase(800, COFFEE, CAKE))) == {"c1": 4}  # 450 -> 4 base points
    assert applied(run([rule], purchase(800, COFFEE, CAKE), points_per_unit=10)) == {"c1": 45}


def test_multiply_without_applies_to_counts_the_whole_eligible_amount_and_rounds_down():
    rule = campaign(effect={"type": "multiply", "factor": "1.5"})
    assert applied(run([rule], purchase(5800, COFFEE, CAKE, CARD))) == {"c1": 4}  # base 8 (800 eligible) x 0.5
    assert applied(run([rule], purchase(700))) == {"c1": 3}  # base 7 x 0.5 = 3.5


def test_bonus_is_once_per_purchase_and_needs_a_matching_line_with_applies_to():
    assert applied(run([campaign()], purchase(800, COFFEE, CAKE))) == {"c1": 100}
    rule = campaign(applies_to={"skus": ["new-bottle"]})
    assert reasons(run([rule], purchase(800, COFFEE, CAKE))) == {"c1": "applies_to: no matching line"}
    assert reasons(run([rule], purchase(800))) == {"c1": "applies_to: no matching line"}
    assert applied(run([rule], purchase(900, COFFEE, BasketItem("new-bottle", 450)))) == {"c1": 100}


def test_per_item_counts_matching_units():
    rule = campaign(effect={"type": "per_item", "points": 10}, applies_to={"categories": ["coffee"], "skus": ["cake"]})
    assert applied(run([rule], purchase(800, COFFEE, CAKE))) == {"c1": 40}
    everything = campaign(effect={"type": "per_item", "points": 10})
    assert applied(run([everything], purchase(5800, COFFEE, CAKE, CARD))) == {"c1": 40}  # not the gift card
    assert reasons(run([everything], purchase(800))) == {"c1": "effect per_item: 0 points on matching amount 800, quantity 0"}


def test_per_amount_counts_whole_units_of_the_matching_amount():
    rule = campaign(effect={"type": "per_amount", "points": 5, "unit_minor": 100}, applies_to={"categories": ["coffee"]})
    assert applied(run([rule], purchase(800, COFFEE, CAKE))) == {"c1": 20}  # 450 -> 4 whole units
    assert applied(run([rule], purchase(850, BasketItem("espresso", 500, 1, "coffee"), CAKE))) == {"c1": 25}
    assert applied(run([rule], purchase(849, BasketItem("espresso", 499, 1, "coffee"), CAKE))) == {"c1": 20}
    # A basket-level discount: 1000 listed, 500 paid: the coffee line is worth 250.
    assert applied(run([rule], purchase(500, BasketItem("espresso", 500, 1, "coffee"), BasketItem("x", 500)))) == {"c1": 10}


def test_excluded_lines_never_earn_even_when_named():
    rule = campaign(effect={"type": "per_amount", "points": 1, "unit_minor": 100}, applies_to={"categories": ["gift_card"]})
    assert reasons(run([rule], purchase(5000, CARD))) == {"c1": "applies_to: no matching line"}


def test_an_effect_worth_nothing_does_not_apply():
    rule = campaign(effect={"type": "per_amount", "points": 5, "unit_minor": 1000})
    assert reasons(run([rule], purchase(999))) == {"c1": "effect per_amount: 0 points on matching amount 999, quantity 0"}


# ------------------------------------------------------------------ order and exclusive groups


def test_breakdown_in_priority_then_id_order_and_campaigns_add_up():
    low, high_b, high_a = campaign("low", priority=-1), campaign("b", priority=5), campaign("a", priority=5)
    award = run([low, high_b, high_a])
    assert [line.campaign_id for line in award.breakdown] == ["a", "b", "low"]
    assert award.points == 300
    assert award.breakdown[0] == CampaignPoints("a", 100, "campaign")


def test_in_an_exclusive_group_only_the_biggest_award_applies():
    small = campaign("small", priority=9, exclusive_group="g", effect={"type": "bonus", "points": 50})
    big = campaign("big", exclusive_group="g", effect={"type": "bonus", "points": 80})
    other = campaign("other", exclusive_group="h", effect={"type": "bonus", "points": 10})
    free = campaign("free", effect={"type": "bonus", "points": 1})
    award = run([small, big, other, free])
    assert applied(award) == {"big": 80, "other": 10, "free": 1}
    assert reasons(award) == {"small": "exclusive_group g: big applies instead (80 points against 50)"}


def test_a_tie_in_a_group_goes_to_the_first_in_order():
    first, second = campaign("z", priority=1, exclusive_group="g"), campaign("a", exclusive_group="g")
    assert applied(run([second, first])) == {"z": 100}
    same_priority = [campaign("b", exclusive_group="g"), campaign("a", exclusive_group="g")]
    assert applied(run(same_priority)) == {"a": 100}


def test_the_group_compares_awards_after_their_limits():
    capped = campaign("capped", exclusive_group="g", limits=[{"per": "member", "period": "day", "max_points": 30}])
    smaller = campaign("smaller", exclusive_group="g", effect={"type": "bonus", "points": 50})
    award = run([capped, smaller])
    assert applied(award) == {"smaller": 50}
    assert award.limited == () and award.increments == ()


def test_a_campaign_that_does_not_apply_leaves_its_group_to_the_others():
    failing = campaign("big", exclusive_group="g", effect={"type": "bonus", "points": 500},
                       conditions={"all": [{"fact": "order.channel", "op": "eq", "value": "app"}]})
    assert applied(run([failing, campaign("small", exclusive_group="g")])) == {"small": 100}


# ------------------------------------------------------------------ limits

DAY = "2026-12-02"


def test_an_award_past_a_limit_is_cut_to_what_is_left():
    rule = campaign(limits=[{"per": "member", "period": "day", "max_points": 200}])
    key = CounterKey("c1", "member", DAY)
    award = run([rule], counters={key: Usage(points=150, times=3)})
    assert applied(award) == {"c1": 50}
    assert award.limited == (Limited("c1", 100, 50),)
    assert award.increments == (Increment(key, 50, 1, 200, None),)


def test_exactly_what_is_left_is_not_a_cut():
    rule = campaign(limits=[{"per": "member", "period": "day", "max_points": 200}])
    award = run([rule], counters={CounterKey("c1", "member", DAY): Usage(points=100)})
    assert (applied(award), award.limited) == ({"c1": 100}, ())


def test_with_nothing_left_the_campaign_does_not_apply():
    rule = campaign(limits=[{"per": "campaign", "period": "campaign", "max_points": 1000}])
    award = run([rule], counters={CounterKey("c1", "campaign", "campaign"): Usage(points=1000)})
    assert (applied(award), award.increments) == ({}, ())
    assert reasons(award) == {"c1": "limit campaign/campaign max_points 1000: none left (gave 1000 points)"}
    assert applied(run([rule], counters={CounterKey("c1", "campaign", "campaign"): Usage(points=999)})) == {"c1": 1}


def test_max_times_counts_applications():
    rule = campaign(limits=[{"per": "member", "period": "campaign", "max_times": 3}])
    key = CounterKey("c1", "member", "campaign")
    assert run([rule], counters={key: Usage(points=999, times=2)}).increments == (Increment(key, 100, 1, None, 3),)
    assert reasons(run([rule], counters={key: Usage(times=3)})) == {
        "c1": "limit member/campaign max_times 3: none left (applied 3 times)"
    }


def test_the_tightest_limit_wins_and_limits_on_one_counter_share_an_increment():
    rule = campaign(limits=[
        {"per": "member", "period": "day", "max_points": 500},
        {"per": "campaign", "period": "day", "max_points": 1000},
        {"per": "member", "period": "day", "max_times": 2},
        {"per": "member", "period": "day", "max_points": 400},
        {"per": "campaign", "period": "day", "max_points": 2000},
    ])
    counters = {CounterKey("c1", "member", DAY): Usage(points=350, times=1),
                CounterKey("c1", "campaign", DAY): Usage(points=920, times=40)}
    award = run([rule], counters=counters)
    assert applied(award) == {"c1": 50}
    assert award.increments == (
        Increment(CounterKey("c1", "member", DAY), 50, 1, 400, 2),
        Increment(CounterKey("c1", "campaign", DAY), 50, 1, 1000, None),
    )


def test_a_daily_limit_counts_the_local_day():
    rule = campaign(limits=[{"per": "member", "period": "day", "max_points": 100}])
    late = NOW.replace(hour=23, minute=30)  # Thursday already in Berlin
    yesterday_full = {CounterKey("c1", "member", DAY): Usage(points=100)}
    assert applied(run([rule], counters=yesterday_full, now=late, time_zone="Europe/Berlin")) == {"c1": 100}
    assert run([rule], now=late, time_zone="Europe/Berlin").increments[0].key == CounterKey("c1", "member", "2026-12-03")
    assert reasons(run([rule], counters=yesterday_full, now=late))["c1"].startswith("limit member/day")


def test_counter_keys_name_every_counter_the_limits_read():
    rules = [campaign("a", limits=[{"per": "member", "period": "day", "max_points": 1},
                                   {"per": "member", "period": "day", "max_times": 1},
                                   {"per": "campaign", "period": "campaign", "max_times": 9}]),
             campaign("b")]
    assert counter_keys(rules, NOW.replace(hour=23), time_zone="Europe/Berlin") == (
        CounterKey("a", "member", "2026-12-03"), CounterKey("a", "campaign", "campaign"),
    )


def test_the_api_example_end_to_end():
    coffee = parse_campaign(API_EXAMPLE)
    bought = purchase(1000, BasketItem("latte", 600, 2, "coffee"), BasketItem("bagel", 400, 1, "food"), channel="app")
    award = run([coffee], bought, counters={CounterKey("coffee-double", "member", DAY): Usage(points=198, times=4)},
                points_per_unit=10)
    assert applied(award) == {"coffee-double": 2}
    assert award.limited == (Limited("coffee-double", 60, 2),)
    assert award.not_applied == ()
    saturday = NOW + timedelta(days=3)
    assert run([coffee], bought, now=saturday).not_applied == (
        NotApplied("coffee-double", "schedule days [mon, tue, wed, thu, fri]: was sat"),
    )


# ------------------------------------------------------------------ properties

CATEGORIES = [None, "coffee", "food", "gift_card", "tax"]
limits = st.lists(
    st.builds(lambda per, period, points, maximum: {"per": per, "period": period,
                                                    ("max_points" if points else "max_times"): maximum},
              st.sampled_from(["member", "campaign"]), st.sampled_from(["day", "campaign"]), st.booleans(),
              st.integers(1, 300)),
    max_size=3,
)
effects = st.one_of(
    st.builds(lambda factor: {"type": "multiply", "factor": factor}, st.sampled_from(["1.5", "2", "3", "1.25"])),
    st.builds(lambda points: {"type": "bonus", "points": points}, st.integers(1, 200)),
    st.builds(lambda points: {"type": "per_item", "points": points}, st.integers(1, 50)),
    st.builds(lambda points, unit: {"type": "per_amount", "points": points, "unit_minor": unit},
              st.integers(1, 50), st.sampled_from([100, 250, 1000])),
)
applies = st.one_of(st.none(), st.builds(lambda categories: {"categories": categories},
                                         st.lists(st.sampled_from(CATEGORIES[1:]), min_size=1, max_size=3)))


@st.composite
def campaign_lists(draw, with_count_conditions: bool = True):
    count = draw(st.integers(0, 6))
    documents = []
    for index in range(count):
        document = {
            "campaign_id": f"c{index}", "name": "c", "effect": draw(effects), "applies_to": draw(applies),
            "limits": draw(limits), "priority": draw(st.integers(0, 2)),
            "exclusive_group": draw(st.sampled_from([None, None, "g", "h"])),
        }
        if draw(st.booleans()):
            facts = ["order.eligible_minor", "member.purchase_count"] + (["order.item_count"] if with_count_conditions else [])
            document["conditions"] = {"all": [{"fact": draw(st.sampled_from(facts)), "op": draw(st.sampled_from(["gte", "lt"])),
                                               "value": draw(st.integers(0, 3000))}]}
        documents.append(parse_campaign(document))
    return documents


baskets = st.lists(
    st.builds(BasketItem, sku=st.sampled_from(["a", "b", "c"]), amount_minor=st.integers(0, 3000),
              quantity=st.integers(1, 4), category=st.sampled_from(CATEGORIES)),
    max_size=5,
)
purchases = st.builds(lambda amount, items: purchase(amount, *items), st.integers(1, 10_000), baskets)


@st.composite
def counters_for(draw, campaigns):
    keys = counter_keys(campaigns, NOW, time_zone="UTC")
    return {key: Usage(draw(st.integers(0, 300)), draw(st.integers(0, 4))) for key in keys if draw(st.booleans())}


@settings(max_examples=200, deadline=None)
@given(data=st.data(), campaigns=campaign_lists(), bought=purchases)
def test_properties_of_every_award(data, campaigns, bought):
    counters = data.draw(counters_for(campaigns))
    award = run(campaigns, bought, counters=counters)
    assert award.points == sum(line.points for line in award.breakdown)
    assert all(line.points > 0 for line in award.breakdown)
    # Every campaign is accounted for, once.
    assert sorted([line.campaign_id for line in award.breakdown] + [entry.campaign_id for entry in award.not_applied]) \
        == sorted(campaign.campaign_id for campaign in campaigns)
    # At most one campaign of each exclusive group.
    groups = [c.exclusive_group for c in campaigns if c.exclusive_group and c.campaign_id in applied(award)]
    assert len(groups) == len(set(groups))
    # No limit is passed: what the counters held plus what this award adds stays within every maximum.
    given_points = applied(award)
    by_id = {c.campaign_id: c for c in campaigns}
    for campaign_id, points in given_points.items():
        for limit in by_id[campaign_id].limits:
            period = DAY if limit.period == "day" else "campaign"
            used = counters.get(CounterKey(campaign_id, limit.per, period), Usage())
            if limit.max_points is not None:
                assert used.points + points <= limit.max_points
            else:
                assert used.times + 1 <= limit.max_times
    for increment in award.increments:
        used = counters.get(increment.key, Usage())
        assert increment.max_points is None or used.points + increment.points <= increment.max_points
        assert increment.max_times is None or used.times + increment.times <= increment.max_times
    for entry in award.limited:
        assert 0 < entry.given < entry.wanted and given_points[entry.campaign_id] == entry.given
    # Amount-based effects never count more than was paid (1 point per 100 here).
    for campaign_id, points in given_points.items():
        effect = by_id[campaign_id].effect
        if effect.type == "multiply":
            assert points <= (effect.factor - 1) * (bought.amount_minor // 100)
        elif effect.type == "per_amount":
            assert points <= effect.points * (bought.amount_minor // effect.unit_minor)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), campaigns=campaign_lists(), bought=purchases)
def test_the_award_does_not_depend_on_the_order_campaigns_are_listed_in(data, campaigns, bought):
    counters = data.draw(counters_for(campaigns))
    shuffled = data.draw(st.permutations(campaigns))
    assert run(shuffled, bought, counters=counters) == run(campaigns, bought, counters=counters)


@settings(max_examples=100, deadline=None)
@given(campaigns=campaign_lists(with_count_conditions=False), bought=purchases, extra=st.integers(1, 50))
def test_points_never_come_from_excluded_lines(campaigns, bought, extra):
    # More units of the excluded lines change neither what was paid nor any line's share of it: no award changes.
    more = [BasketItem(item.sku, item.amount_minor, item.quantity + extra, item.category)
            if item.category in EXCLUDED else item for item in bought.items]
    assert run(campaigns, purchase(bought.amount_minor, *more)) == run(campaigns, bought)
    # A basket of excluded lines only earns no campaign points but a bonus without applies_to.
    only_excluded = purchase(bought.amount_minor, *[item for item in bought.items if item.category in EXCLUDED])
    if only_excluded.items:
        award = run(campaigns, only_excluded)
        by_id = {c.campaign_id: c for c in campaigns}
        assert all(by_id[line.campaign_id].effect.type == "bonus" and by_id[line.campaign_id].applies_to is None
                   for line in award.breakdown)


def test_a_campaign_list_is_not_copied_or_changed():
    rules = [campaign("b"), campaign("a", priority=2)]
    before = copy.deepcopy(rules)
    run(rules)
    assert rules == before


# ------------------------------------------------------------------ counters in all, spread over shards

SHARDS = 8


@given(maximum=st.integers(0, 10_000))
def test_the_shares_of_a_limit_add_up_to_it_and_differ_by_at_most_one(maximum):
    shares = [share(maximum, shard, SHARDS) for shard in range(SHARDS)]
    assert sum(shares) == maximum and max(shares) - min(shares) <= 1


@st.composite
def spent_budgets(draw):
    """A budget, what each shard has given of its share, a home shard and an award that fits what is left."""
    maximum = draw(st.integers(1, 2_000))
    shares = [maximum // SHARDS + (shard < maximum % SHARDS) for shard in range(SHARDS)]  # computed here, not by share()
    used = [draw(st.integers(0, held)) for held in shares]
    left = maximum - sum(used)
    wanted = draw(st.integers(0, left))
    return maximum, shares, used, draw(st.integers(0, SHARDS - 1)), wanted


@given(spent_budgets(), st.booleans())
def test_an_award_in_a_spread_budget_takes_its_home_shard_first_and_never_passes_a_share(budget, counts_times):
    maximum, shares, used, home, wanted = budget
    key = CounterKey("c1", "campaign", "campaign")
    read = {key.in_shard(shard): Usage(points=points) for shard, points in enumerate(used) if points}
    parts = spread([Increment(key, wanted, 1, maximum, None)], read, home, SHARDS)
    taken = {part.key.shard: part.points for part in parts}
    assert sum(taken.values()) == wanted
    assert all(used[shard] + points <= shares[shard] for shard, points in taken.items())
    assert all(part.max_points == shares[part.key.shard] and part.max_times is None for part in parts)
    assert sum(part.times for part in parts) == 1  # applied once, counted in one shard
    home_room = shares[home] - used[home]
    assert taken.get(home, 0) == min(home_room, wanted)  # the home shard first, as far as it has room
    if wanted > home_room:  # then the others in order, each filled before the next is touched
        others = [shard for shard in range(SHARDS) if shard != home]
        rest = wanted - home_room
        for shard in others:
            expected = min(shares[shard] - used[shard], rest)
            assert taken.get(shard, 0) == expected
            rest -= expected


def test_a_limit_on_times_takes_the_first_shard_with_a_time_left_and_the_points_go_with_it():
    key = CounterKey("c1", "campaign", "2026-12-02")
    read = {key.in_shard(shard): Usage(times=1) for shard in range(SHARDS) if shard != 5}  # 8 times: one a shard
    [part] = spread([Increment(key, 40, 1, None, 8)], read, 2, SHARDS)
    assert part == Increment(key.in_shard(5), 40, 1, None, 1)


def test_counters_of_one_member_stay_whole_and_statistics_go_to_the_home_shard():
    mine = Increment(CounterKey("c1", "member", "campaign"), 10, 1, 50, None)
    statistics = Increment(CounterKey("c1", "campaign", "campaign"), 10, 1, None, None)
    assert spread([mine, statistics], {}, 3, SHARDS) == (
        mine, Increment(CounterKey("c1", "campaign", "campaign", 3), 10, 1, None, None))


def test_the_engine_sees_a_counter_in_all_as_the_sum_of_its_shards():
    key = CounterKey("c1", "campaign", "campaign")
    assert stored_keys([key, CounterKey("c1", "member", "campaign")], SHARDS) == (
        *(key.in_shard(shard) for shard in range(SHARDS)), CounterKey("c1", "member", "campaign"))
    assert totals({key.in_shard(0): Usage(3, 1), key.in_shard(7): Usage(4, 2)}) == {key: Usage(7, 3)}
