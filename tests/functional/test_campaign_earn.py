"""Campaigns and the basket in earn, through the earn function: breakdown, limits, preview, replay, returns;
and at the service level: the round trips with 0, 10 and 100 active campaigns, and the breakdown property."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.domain.access import Caller
from loyalty.domain.campaigns.document import parse_campaign
from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS
from loyalty.domain.model import BasketItem, Purchase
from loyalty.domain.earning import MAX_CAMPAIGNS_PER_PURCHASE
from loyalty.core.cache import Refreshed
from loyalty.campaigns.store import CampaignStore
from loyalty.store.keys import shard_of
from tests.conftest import REGION, ROOT, TABLES, call, http_event, make_loyalty
from tests.functional.helpers import ADMIN, MEMBER, POS, activity, enroll, return_points, table_items

pytestmark = pytest.mark.usefixtures("tables")

FRESH = {"CAMPAIGN_CACHE_SECONDS": "0"}  # this instance reads the campaigns on every call: tests change them
INSTANCE = 41
BASKET = [
    {"sku": "LATTE-L", "category": "coffee", "amount_minor": 2000, "quantity": 2},
    {"sku": "GIFT-50", "category": "gift_card", "amount_minor": 5000, "quantity": 1},
    {"sku": "CROISSANT", "category": "bakery", "amount_minor": 1000, "quantity": 1},
]


def campaign_store() -> CampaignStore:
    return CampaignStore.from_table(TABLES["CATALOG_TABLE"], REGION)


def activate(*documents: dict) -> None:
    store, now = campaign_store(), datetime.now(timezone.utc)
    for document in documents:
        store.create(parse_campaign(document), now)
        store.activate(document["campaign_id"], now)


COFFEE = {"campaign_id": "coffee-double", "name": "Double points on coffee", "applies_to": {"categories": ["coffee"]},
          "effect": {"type": "multiply", "factor": "2"}, "limits": [{"per": "member", "period": "day", "max_points": 5}]}
BIG_BASKET = {"campaign_id": "big-basket", "name": "100 points on 10 euros", "priority": 10,
              "conditions": {"all": [{"fact": "order.eligible_minor", "op": "gte", "value": 1000}]},
              "effect": {"type": "bonus", "points": 100}}


def earn(member_id: str, transaction_id: str, amount_minor: int = 8000, items=BASKET, scopes: str = POS, **fields):
    body = {"transaction_id": transaction_id, "amount_minor": amount_minor, "currency": "EUR", "items": items, **fields}
    return call("earn", http_event("POST", f"/v1/members/{member_id}/earn", body=body, scopes=scopes), INSTANCE, **FRESH)


def preview(member_id: str, transaction_id: str = "t-preview", amount_minor: int = 8000, items=BASKET, scopes: str = POS,
            sub: str | None = "terminal-1"):
    body = {"transaction_id": transaction_id, "amount_minor": amount_minor, "currency": "EUR", "items": items}
    event = http_event("POST", f"/v1/members/{member_id}/earn/preview", body=body, scopes=scopes, sub=sub)
    return call("earn", event, INSTANCE, **FRESH)


def counter(key: str) -> dict | None:
    client = boto3.client("dynamodb", region_name=REGION)
    item = client.get_item(TableName=TABLES["STATS_TABLE"], Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
    return {name: int(value["N"]) for name, value in item.items() if "N" in value} if item else None


def in_all(campaign_id: str, period: str = "campaign") -> dict | None:
    """A counter in all, summed over its shards (None: no shard written); over the campaign it is the campaign's
    points_awarded and times_applied."""
    shards = [counter(f"CL#{campaign_id}#*#{period}#{shard}") for shard in range(CAMPAIGN_SHARDS)]
    written = [shard for shard in shards if shard is not None]
    return {name: sum(shard.get(name, 0) for shard in written) for name in ("points", "times")} if written else None


EXPECTED = {
    "base_points": 30, "program_version": 1,  # coffee 20.00 + bakery 10.00 earn; the gift card does not
    "breakdown": [{"source": "base", "campaign_id": None, "points": 30, "program_version": 1},
                  {"source": "campaign", "campaign_id": "big-basket", "points": 100, "program_version": 1},  # priority 10: first
                  {"source": "campaign", "campaign_id": "coffee-double", "points": 5, "program_version": 1}],  # wanted 20, member/day 5
    "limited": [{"campaign_id": "coffee-double", "wanted": 20, "given": 5}],
}


def test_a_basket_with_excluded_lines_two_campaigns_and_a_limit_preview_earn_replay_and_return(tmp_path):
    from tests.functional.test_campaign_statistics import deliver_ledger_stream

    activate(COFFEE, BIG_BASKET)
    member_id = enroll()["member_id"]
    before = table_items()
    previewed = preview(member_id, transaction_id="t-1")
    assert previewed.status == 200, previewed.body
    assert table_items() == before, "a preview writes nothing"
    assert previewed.body == {"points": 135, **EXPECTED, "not_applied": []}

    earned = earn(member_id, "t-1")
    assert earned.status == 201, earned.body
    assert {name: earned[name] for name in ("points", *EXPECTED)} == {"points": 135, **EXPECTED}
    assert earned["balance"] == 50 + 135
    replay = earn(member_id, "t-1")
    assert replay.status == 200 and replay.body == earned.body
    item = activity(member_id)["items"][0]
    assert {name: item[name] for name in ("points", *EXPECTED)} == {"points": 135, **EXPECTED}

    day = datetime.now(timezone.utc).date().isoformat()
    assert counter(f"CL#coffee-double#{member_id}#{day}")["points"] == 5
    assert counter(f"CL#coffee-double#{member_id}#{day}")["expires"] > datetime.now(timezone.utc).timestamp()
    # No limit in all counts these campaigns: their statistics come from the ledger stream, once.
    assert in_all("coffee-double") is None and in_all("big-basket") is None
    deliver_ledger_stream(tmp_path)
    deliver_ledger_stream(tmp_path)  # delivered again: nothing added twice
    assert in_all("coffee-double") == {"points": 5, "times": 1}  # points_awarded, times_applied
    home = shard_of(member_id, CAMPAIGN_SHARDS)  # a purchase counts in its member's shard while it has room
    assert counter(f"CL#coffee-double#*#campaign#{home}") == {"points": 5, "times": 1}
    assert in_all("big-basket") == {"points": 100, "times": 1}

    # Half the purchase back: half of all its points, campaign points included (135 * 4000 // 8000).
    returned = return_points(member_id, "t-1", "r-1", 4000)
    assert returned.status == 201 and returned["points"] == -67
    assert in_all("big-basket") == {"points": 100, "times": 1}, "a return gives no budget back"

    # The member's daily coffee limit is used up: the next purchase that day says so.
    again = preview(member_id)
    assert again["breakdown"][1:] == [{"source": "campaign", "campaign_id": "big-basket", "points": 100, "program_version": 1}]
    assert again["not_applied"] == [{"campaign_id": "coffee-double",
                                     "reason": "limit member/day max_points 5: none left (gave 5 points)"}]


def test_a_basket_of_excluded_lines_earns_nothing_and_meets_no_campaign_condition():
    activate(BIG_BASKET)
    member_id = enroll()["member_id"]
    earned = earn(member_id, "t-gift", 5000, items=[BASKET[1]])
    assert earned.status == 201 and earned["points"] == 0 and earned["base_points"] == 0
    assert earned["breakdown"] == [{"source": "base", "campaign_id": None, "points": 0, "program_version": 1}]
    assert in_all("big-basket") is None


def test_a_basket_discount_reduces_every_line_and_the_unlisted_remainder_earns_nothing():
    member_id = enroll()["member_id"]
    discounted = earn(member_id, "t-discount", 4000)  # lines of 80.00 paid 40.00: coffee and bakery earn on 15.00
    assert discounted["base_points"] == 15
    unlisted = earn(member_id, "t-unlisted", 9000, items=[BASKET[0]])  # 70.00 not described by any line
    assert unlisted["base_points"] == 20


@pytest.mark.parametrize("items", [
    [BASKET[0]] * 201,
    [{**BASKET[0], "sku": "LATTE L"}],
    [{**BASKET[0], "category": "coffee/hot"}],
    [{**BASKET[0], "quantity": 0}],
    [{**BASKET[0], "quantity": 10_001}],
    [{**BASKET[0], "amount_minor": -1}],
])
def test_a_malformed_basket_is_refused_and_nothing_is_written(items):
    member_id = enroll()["member_id"]
    before = table_items()
    for reply in (earn(member_id, "t-bad", items=items), preview(member_id, items=items)):
        assert reply.status == 422 and reply["code"] == "VALIDATION_ERROR", reply.body
    assert table_items() == before


def test_preview_is_for_the_owner_member_and_staff_and_refuses_a_blocked_member():
    activate(BIG_BASKET)
    own = enroll("me@example.com", scopes=MEMBER, sub="app-user-1")["member_id"]
    other = enroll("other@example.com")["member_id"]
    mine = preview("me", scopes=MEMBER, sub="app-user-1")
    assert mine.status == 200 and mine["points"] == 130
    assert preview(own, scopes=MEMBER, sub="app-user-1").body == mine.body
    assert preview(other, scopes=MEMBER, sub="app-user-1").status == 404
    blocked = call("enroll", http_event("POST", f"/v1/members/{other}/block", body={"reason": "fraud"}, scopes=ADMIN, sub="admin"))
    assert blocked.status == 200
    refused = preview(other)
    assert refused.status == 403 and refused["code"] == "MEMBER_BLOCKED"


# ------------------------------------------------------------------ service level: round trips and properties


def _bonus(index: int, limits: list | None = None) -> dict:
    return {"campaign_id": f"c{index:03d}", "name": f"campaign {index}", "effect": {"type": "bonus", "points": 1 + index % 5},
            "limits": limits if limits is not None else [{"per": "member", "period": "day", "max_points": 10},
                                                          {"per": "campaign", "period": "campaign", "max_times": 1000}]}


@pytest.mark.parametrize("active", [0, 10, 100])
def test_earn_is_two_round_trips_with_0_10_and_100_active_campaigns(active):
    activate(*(_bonus(index) for index in range(active)))
    cache = Refreshed(campaign_store().active, 60)
    uc = make_loyalty(at=datetime.now(timezone.utc), campaigns=cache.get)
    staff = Caller("terminal-1", frozenset({POS}))
    member_id = uc.enroll(staff, email="round@example.com", channel="store").member_id
    cache.get()  # warm
    requests = []
    uc.store.on_request(lambda operation, params: requests.append((operation, params)))
    outcome = uc.earn(staff, member_id, Purchase("t-1", 1000, "EUR"), payload={"t": 1})
    considered = min(active, MAX_CAMPAIGNS_PER_PURCHASE)
    # member, entry, each considered campaign's member counter and the shards of its counter in all
    keys_read = 2 + considered * (1 + CAMPAIGN_SHARDS)
    assert [operation for operation, _ in requests] == ["BatchGetItem", "TransactWriteItems"]  # 16 fit in 100 keys
    assert sum(len(table["Keys"]) for table in requests[0][1]["RequestItems"].values()) == keys_read <= 100
    write = len(requests[-1][1]["TransactItems"])
    assert write <= 100
    campaign_lines = [line for line in outcome.entry.breakdown if line.source == "campaign"]
    assert len(campaign_lines) == considered
    assert outcome.entry.points == sum(line.points for line in outcome.entry.breakdown)
    if active > MAX_CAMPAIGNS_PER_PURCHASE:
        skipped = uc.preview(staff, member_id, Purchase("t-2", 1000, "EUR")).award.not_applied
        assert len(skipped) == active - considered and "more than 16 campaigns" in skipped[0].reason


BASKET_LINES = st.lists(
    st.builds(BasketItem, sku=st.sampled_from(["A", "B", "C"]), amount_minor=st.integers(0, 5000),
              quantity=st.integers(1, 5), category=st.sampled_from(["coffee", "bakery", "gift_card", None])),
    max_size=5,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=BASKET_LINES, amount=st.integers(1, 20_000), channel=st.sampled_from(["app", "store", None]))
def test_property_the_breakdown_adds_up_to_the_points_and_the_counters_to_the_campaign_lines(lines, amount, channel):
    store = campaign_store()
    if not store.active():
        activate(COFFEE, BIG_BASKET,
                 {"campaign_id": "per-croissant", "name": "5 per bakery item", "applies_to": {"categories": ["bakery"]},
                  "effect": {"type": "per_item", "points": 5}, "exclusive_group": "food",
                  "limits": [{"per": "campaign", "period": "campaign", "max_points": 300}]},
                 {"campaign_id": "app-amount", "name": "app spend", "effect": {"type": "per_amount", "points": 3, "unit_minor": 700},
                  "exclusive_group": "food", "conditions": {"any": [{"fact": "order.channel", "op": "eq", "value": "app"}]}})
    uc = make_loyalty(at=datetime.now(timezone.utc), campaigns=store.active)
    staff = Caller("terminal-1", frozenset({POS}))
    member_id = uc.enroll(staff, email=f"p{datetime.now().timestamp()}@example.com", channel="store").member_id
    purchase = Purchase("t-p", amount, "EUR", channel=channel, items=tuple(lines))
    entry = uc.earn(staff, member_id, purchase, payload={"t": "p"}).entry
    assert entry.points == sum(line.points for line in entry.breakdown) >= 0
    assert entry.breakdown[0].points == entry.base_points <= amount // 100
    budget = in_all("per-croissant")
    assert budget is None or budget["points"] <= 300


class CountingStore:
    def __init__(self) -> None:
        self.loads = 0

    def active(self) -> list:
        self.loads += 1
        return []


def test_the_campaigns_cache_reads_once_per_ttl_and_the_earn_function_may_not_keep_them_over_60_seconds():
    store, clock = CountingStore(), [0.0]
    cache = Refreshed(store.active, 60, timer=lambda: clock[0])
    cache.get()
    clock[0] = 60
    cache.get()
    assert store.loads == 1
    clock[0] = 60.5
    cache.get()
    assert store.loads == 2
    from loyalty.settings import ConfigurationError, EarnSettings

    env = {"MEMBERS_TABLE": "m", "LEDGER_TABLE": "l", "STATS_TABLE": "s", "CATALOG_TABLE": "c"}
    assert EarnSettings.from_environment(env).campaign_cache_seconds == 60
    with pytest.raises(ConfigurationError, match="CAMPAIGN_CACHE_SECONDS"):
        EarnSettings.from_environment({**env, "CAMPAIGN_CACHE_SECONDS": "61"})
    with pytest.raises(ConfigurationError, match="CATALOG_TABLE"):
        EarnSettings.from_environment({name: value for name, value in env.items() if name != "CATALOG_TABLE"})


def _worked_example() -> tuple[list[dict], dict, dict, str]:
    """docs/campaigns.md's worked example, as a reader pastes it: the campaigns its script creates, its basket,
    the answer the page shows and the page's text."""
    page = (ROOT / "docs" / "campaigns.md").read_text()
    example = page.split("A worked example", 1)[1]
    script = example.split("```bash\n", 1)[1].split("```", 1)[0]
    campaigns = [json.loads(body) for body in re.findall(r"/v1/campaigns -H .*?-d '(\{.*?\})'", script, re.S)]
    basket = json.loads(re.search(r"BASKET='(.*?)'", script, re.S).group(1))
    shown = json.loads(example.split("```json\n", 1)[1].split("```", 1)[0])
    return campaigns, basket, shown, example


def test_the_worked_example_of_docs_campaigns_md_earns_what_it_says():
    campaigns, basket, shown, page = _worked_example()
    assert [c["campaign_id"] for c in campaigns] == ["coffee-treat", "basket-bonus"]
    activate(*campaigns)
    member_id = enroll("sam@example.com", channel="store")["member_id"]
    # Worked out by hand: 28.50 eligible (the gift card earns nothing) is 28 base points; basket-bonus (priority 10)
    # adds 50; coffee-treat wants 25 (the base points of 25.00 of coffee) but its daily limit of 5 leaves 5.
    expected = {"points": 83, "base_points": 28, "program_version": 1,
                "breakdown": [{"source": "base", "campaign_id": None, "points": 28, "program_version": 1},
                              {"source": "campaign", "campaign_id": "basket-bonus", "points": 50, "program_version": 1},
                              {"source": "campaign", "campaign_id": "coffee-treat", "points": 5, "program_version": 1}],
                "limited": [{"campaign_id": "coffee-treat", "wanted": 25, "given": 5}]}
    assert shown == {**expected, "not_applied": []}
    previewed = call("earn", http_event("POST", f"/v1/members/{member_id}/earn/preview", body=basket), INSTANCE, **FRESH)
    assert previewed.body == shown
    earned = call("earn", http_event("POST", f"/v1/members/{member_id}/earn", body=basket), INSTANCE, **FRESH)
    assert {name: earned[name] for name in expected} == expected and earned["balance"] == 133
    assert "`balance` (133: the welcome bonus and these 83)" in page
    assert return_points(member_id, basket["transaction_id"], "store-7:0001:r1", 1600)["points"] == -24
    assert '"points": -24' in page
    again = call("earn", http_event("POST", f"/v1/members/{member_id}/earn/preview", body=basket), INSTANCE, **FRESH)
    reason = "limit member/day max_points 5: none left (gave 5 points)"
    assert again["not_applied"] == [{"campaign_id": "coffee-treat", "reason": reason}] and f"`{reason}`" in page
