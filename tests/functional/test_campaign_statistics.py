"""A campaign's statistics (points_awarded, times_applied) off the earn's transaction: the ledger stream's consumer
(the publisher) adds what no limit counted, once per entry, whatever the stream delivers again or a replay sends;
a campaign whose limit in all over the campaign is its statistics keeps them exact in the transaction."""

from __future__ import annotations

import random
from collections import defaultdict

import boto3
import pytest

from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS
from loyalty.campaigns.store import CampaignStore
from tests.conftest import REGION, TABLES, LambdaContext, load_function
from tests.functional.helpers import enroll

pytestmark = pytest.mark.usefixtures("tables")

PLAIN = {"campaign_id": "plain", "name": "5 points", "effect": {"type": "bonus", "points": 5}}
EXTRA = {"campaign_id": "extra", "name": "per item", "effect": {"type": "per_item", "points": 3}}  # 3 eligible units: 9
BUDGET = {"campaign_id": "budget", "name": "budgeted", "effect": {"type": "bonus", "points": 7},
          "limits": [{"per": "campaign", "period": "campaign", "max_points": 1_000_000}]}


def ledger_records() -> list[dict]:
    tables = boto3.client("dynamodb", region_name=REGION)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = tables.describe_table(TableName=TABLES["LEDGER_TABLE"])["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    for record in records:
        record["dynamodb"].pop("ApproximateCreationDateTime", None)
    return records


def deliver(records: list[dict], tmp_path) -> dict:
    """Hand stream records to the publisher in batches of at most 100 (a stream mapping's BatchSize)."""
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(tmp_path / "events.jsonl"))
    failures = []
    for start in range(0, len(records), 100):
        reply = publisher.lambda_handler({"Records": records[start:start + 100]}, LambdaContext(function_name="publish_events"))
        failures += reply["batchItemFailures"]
    return {"batchItemFailures": failures}


def deliver_ledger_stream(tmp_path) -> None:
    """Hand the ledger stream so far to the publisher, as the stream's event source mapping would."""
    deliver(ledger_records(), tmp_path)


def statistics(campaign_id: str) -> tuple[int, int]:
    """What GET /v1/campaigns/{id} shows, read as the campaigns function reads it."""
    store = CampaignStore.from_table(TABLES["CATALOG_TABLE"], REGION, stats_table=TABLES["STATS_TABLE"])
    usage = store.usage([campaign_id])[campaign_id]
    return usage.points, usage.times


def from_ledger() -> dict[str, tuple[int, int]]:
    """Each campaign's points and times over the earn entries of the ledger, counted independently."""
    client = boto3.client("dynamodb", region_name=REGION)
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for page in client.get_paginator("scan").paginate(TableName=TABLES["LEDGER_TABLE"]):
        for item in page["Items"]:
            for line in item.get("breakdown", {}).get("L", []):
                line = line["M"]
                if line["source"]["S"] == "campaign":
                    found[line["campaign_id"]["S"]][0] += int(line["points"]["N"])
                    found[line["campaign_id"]["S"]][1] += 1
    return {campaign_id: (points, times) for campaign_id, (points, times) in found.items()}


def test_statistics_come_from_the_stream_once_and_a_budget_counts_its_own_in_the_transaction(tmp_path):
    from tests.functional.test_campaign_earn import activate, earn

    activate(PLAIN, EXTRA, BUDGET)
    member_id = enroll()["member_id"]
    assert earn(member_id, "t-1").status == 201
    # The budget's counter is its statistics: exact at once. The others wait for the stream.
    assert statistics("budget") == (7, 1)
    assert statistics("plain") == (0, 0) and statistics("extra") == (0, 0)
    records = ledger_records()
    deliver(records, tmp_path)
    assert statistics("plain") == (5, 1) and statistics("extra") == (9, 1) and statistics("budget") == (7, 1)
    deliver(records, tmp_path)  # delivered again: nothing added
    deliver(list(reversed(records)), tmp_path)  # replayed in another order
    assert from_ledger() == {"plain": (5, 1), "extra": (9, 1), "budget": (7, 1)}
    assert {name: statistics(name) for name in ("plain", "extra", "budget")} == from_ledger()


def test_statistics_are_exact_whatever_the_stream_redelivers_and_in_what_batches(tmp_path):
    from tests.functional.test_campaign_earn import activate, earn

    activate(PLAIN, EXTRA, BUDGET)
    rng = random.Random(5)
    members = [enroll(email=f"s{index}@example.com")["member_id"] for index in range(4)]
    for step in range(12):
        assert earn(rng.choice(members), f"t-{step}", amount_minor=rng.randint(500, 9000)).status == 201
    records = ledger_records()
    deliveries = [record for record in records for _ in range(rng.randint(1, 3))]  # at least once, some again
    rng.shuffle(deliveries)
    for start in range(0, len(deliveries), 7):  # in batches of any size, in any order
        reply = deliver(deliveries[start:start + 7], tmp_path)
        assert reply["batchItemFailures"] == []
    truth = from_ledger()
    assert truth["plain"][1] == 12 and truth["budget"] == (7 * 12, 12)
    assert {name: statistics(name) for name in truth} == truth
    # Spread over the members' home shards, never more items than the shards.
    client = boto3.client("dynamodb", region_name=REGION)
    shards = [key for key in (f"CL#plain#*#campaign#{shard}" for shard in range(CAMPAIGN_SHARDS))
              if "Item" in client.get_item(TableName=TABLES["STATS_TABLE"], Key={"pk": {"S": key}})]
    assert 1 <= len(shards) <= len(members)
