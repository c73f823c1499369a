"""Campaign limits under concurrent purchases, against moto in server mode (transactions made atomic).

Threads call the earn function at the same time, each with its own copy of it (as separate Lambda instances):
a campaign's budget and a member's daily limit hold exactly, and the counters equal what the ledger says.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import boto3

from loyalty.domain.campaigns.document import parse_campaign
from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS
from loyalty.campaigns.store import CampaignStore
from tests.conftest import call, http_event
from tests.functional.helpers import enroll
from tests.functional.test_concurrency import moto_server  # noqa: F401 - the fixture

THREADS = 8


def _env(endpoint: str) -> dict:
    return {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "CAMPAIGN_CACHE_SECONDS": "0"}


def _activate(endpoint: str, document: dict) -> None:
    store, now = CampaignStore.from_table("CatalogTable", "us-east-1", endpoint), datetime.now(timezone.utc)
    store.create(parse_campaign(document), now)
    store.activate(document["campaign_id"], now)


def _run(purchases: list[tuple[str, str]], endpoint: str) -> list:
    """Each (member_id, transaction_id) earned once; THREADS threads, each its own function instance."""
    replies: list = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for member_id, transaction_id in purchases[worker::THREADS]:
            body = {"transaction_id": transaction_id, "amount_minor": 1000, "currency": "EUR",
                    "items": [{"sku": "LATTE", "category": "coffee", "amount_minor": 1000, "quantity": 1}]}
            reply = call("earn", http_event("POST", f"/v1/members/{member_id}/earn", body=body), 200 + worker, **_env(endpoint))
            with lock:
                replies.append(reply)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def _campaign_points(endpoint: str, member_id: str, campaign_id: str) -> list[int]:
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    items = client.query(TableName="LedgerTable", KeyConditionExpression="member_id = :m",
                         ExpressionAttributeValues={":m": {"S": member_id}}, ConsistentRead=True)["Items"]
    return [int(line["M"]["points"]["N"]) for item in items for line in item.get("breakdown", {}).get("L", [])
            if line["M"].get("campaign_id", {}).get("S") == campaign_id]


def _counter(endpoint: str, key: str) -> dict:
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    item = client.get_item(TableName="StatsTable", Key={"pk": {"S": key}}, ConsistentRead=True).get("Item", {})
    return {name: int(item[name]["N"]) for name in ("points", "times") if name in item}


def test_fifty_concurrent_purchases_never_pass_a_campaign_budget_of_1000_points(moto_server):  # noqa: F811
    _activate(moto_server, {"campaign_id": "budget", "name": "30 points a coffee, 1000 in all",
                            "applies_to": {"categories": ["coffee"]}, "effect": {"type": "per_item", "points": 30},
                            "limits": [{"per": "campaign", "period": "campaign", "max_points": 1000}]})
    members = [enroll(f"b{index}@example.com", env=_env(moto_server))["member_id"] for index in range(50)]
    replies = _run([(member_id, f"t-{index}") for index, member_id in enumerate(members)], moto_server)
    assert all(reply.status in (201, 503) for reply in replies), [(r.status, r.body) for r in replies if r.status not in (201, 503)]
    given = [points for member_id in members for points in _campaign_points(moto_server, member_id, "budget")]
    answered = [line["points"] for reply in replies if reply.status == 201
                for line in reply["breakdown"] if line["campaign_id"] == "budget"]
    shards = [_counter(moto_server, f"CL#budget#*#campaign#{shard}") for shard in range(CAMPAIGN_SHARDS)]
    counter = {name: sum(shard.get(name, 0) for shard in shards) for name in ("points", "times")}
    assert all(shard.get("points", 0) <= 1000 // CAMPAIGN_SHARDS for shard in shards), "each shard its share at most"
    assert sorted(given) == sorted(answered)
    assert sum(given) == counter["points"] <= 1000 and counter["times"] == len(given)
    assert sum(given) == 1000, "with 50 purchases of 30 the budget is spent to the last point"
    assert sorted(given)[0] == 10  # the last award was cut to what was left


def test_concurrent_purchases_of_one_member_never_pass_its_daily_limit(moto_server):  # noqa: F811
    _activate(moto_server, {"campaign_id": "daily", "name": "10 points a coffee, 25 a day",
                            "applies_to": {"categories": ["coffee"]}, "effect": {"type": "per_item", "points": 10},
                            "limits": [{"per": "member", "period": "day", "max_points": 25}]})
    member_id = enroll("daily@example.com", env=_env(moto_server))["member_id"]
    replies = _run([(member_id, f"d-{index}") for index in range(16)], moto_server)
    assert all(reply.status in (201, 503) for reply in replies), [(r.status, r.body) for r in replies if r.status not in (201, 503)]
    given = _campaign_points(moto_server, member_id, "daily")
    day = datetime.now(timezone.utc).date().isoformat()
    assert sum(given) == _counter(moto_server, f"CL#daily#{member_id}#{day}")["points"] <= 25
    assert sum(given) == min(25, 10 * sum(reply.status == 201 for reply in replies))


def test_the_last_points_of_a_spread_budget_go_exactly_once_when_every_purchase_contends_for_them(moto_server):  # noqa: F811
    """A budget of 100 points is held as shares of 20 over 5 shards; all but 42 points are spent, what is left
    scattered over 3 shards. 16 purchases of 30 at once: whichever comes first takes 30 (from its own shard, then
    the others), the next the last 12, and no shard ever holds more than its share."""
    _activate(moto_server, {"campaign_id": "spread", "name": "30 points a coffee, 100 in all",
                            "applies_to": {"categories": ["coffee"]}, "effect": {"type": "per_item", "points": 30},
                            "limits": [{"per": "campaign", "period": "campaign", "max_points": 100}]})
    shares = [20, 20, 20, 20, 20]
    left = [20, 0, 7, 0, 15]
    assert len(shares) == CAMPAIGN_SHARDS
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server)
    for shard, (held, room) in enumerate(zip(shares, left, strict=True)):
        if held - room:
            client.put_item(TableName="StatsTable", Item={"pk": {"S": f"CL#spread#*#campaign#{shard}"},
                                                          "points": {"N": str(held - room)}, "times": {"N": "1"}})
    members = [enroll(f"s{index}@example.com", env=_env(moto_server))["member_id"] for index in range(16)]
    replies = _run([(member_id, f"s-{index}") for index, member_id in enumerate(members)], moto_server)

    assert all(reply.status in (201, 503) for reply in replies), [(r.status, r.body) for r in replies if r.status not in (201, 503)]
    given = sorted(points for member_id in members for points in _campaign_points(moto_server, member_id, "spread"))
    assert given == [12, 30], "42 points were left: one purchase takes 30, the next the last 12"
    held = [_counter(moto_server, f"CL#spread#*#campaign#{shard}").get("points", 0) for shard in range(CAMPAIGN_SHARDS)]
    assert held == shares, "every shard is full to its share, none over it"
    assert sum(held) == 100
