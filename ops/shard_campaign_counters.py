"""Move campaign counters in all written before the shards into their shards (a one-off upgrade job).

Before the counters in all were spread over CAMPAIGN_SHARDS items, each was one item, `CL#<campaign>#*#<period>`
(no shard). The earn reads only the shards now, so without this job a campaign active across the upgrade would
start its budget, its daily caps and its statistics again from 0. For each campaign of the catalog (one Query of
its documents, never a Scan), the job reads the legacy items it can have (over the campaign, and each local day
still kept by the TTL) by their keys, and moves each one's points and times into the shards in one transaction:

- each shard takes up to the room its share of the campaign's limits leaves, in shard order; what no share has
  room for (the budget was overspent while the upgrade ran) goes to the last shard, so the shards add up to the
  usage and the counter stays closed (an earn adds to a shard only while it stays within its share);
- each shard is written only if it still holds what was read, so an earn landing meanwhile makes the transaction
  fail and the item is read and moved again;
- the legacy item is marked `migrated` in the same transaction, only if it still holds what was read and is not
  marked: a second run, or a rerun after a crash half way, moves nothing twice.

Run it after deploying the sharded code, with the tables of the deployment (or locally: make migrate-campaign-counters):

    python -m ops.shard_campaign_counters --catalog-table <CatalogTable> --stats-table <StatsTable>
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from loyalty.domain.campaigns.document import Campaign, parse_campaign
from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS, CounterKey, Usage
from loyalty.domain.campaigns.shards import share

CAMPAIGN_PK = "CAMPAIGN"
DAYS_KEPT = 8  # a per-day counter outlives its day by 7 days (store.repository.DAY_COUNTER_KEPT), then the TTL removes it
ATTEMPTS = 10  # rereads of one item when earns keep changing its shards


@dataclass(frozen=True)
class Moved:
    items: int = 0  # legacy items moved by this run
    skipped: int = 0  # legacy items a previous run had moved


def legacy_key(key: CounterKey) -> str:
    return f"CL#{key.campaign_id}#*#{key.period}"


def shard_key(key: CounterKey, shard: int) -> str:
    return f"CL#{key.campaign_id}#*#{key.period}#{shard}"


def maxima(campaign: Campaign, period: str) -> tuple[int | None, int | None]:
    """The lowest max_points and max_times of the campaign's limits in all over `period` (day or campaign)."""
    limits = [limit for limit in campaign.limits if limit.per == "campaign" and limit.period == period]
    points = [limit.max_points for limit in limits if limit.max_points is not None]
    times = [limit.max_times for limit in limits if limit.max_times is not None]
    return (min(points) if points else None), (min(times) if times else None)


def split(amount: int, maximum: int | None, held: Sequence[int], shards: int = CAMPAIGN_SHARDS) -> list[int]:
    """What each shard takes of `amount`: up to its share's room in order; the rest (no room left) to the last."""
    parts = [0] * shards
    left = amount
    if maximum is not None:
        for shard in range(shards):
            parts[shard] = max(0, min(left, share(maximum, shard, shards) - held[shard]))
            left -= parts[shard]
    parts[-1 if maximum is not None else 0] += left
    return parts


def campaigns(client, catalog_table: str) -> list[Campaign]:
    """Every campaign of the catalog (drafts, active and ended: an ended one keeps its statistics): one Query."""
    pages = client.get_paginator("query").paginate(
        TableName=catalog_table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": CAMPAIGN_PK}},
        ConsistentRead=True,
    )
    return [parse_campaign(json.loads(item["document"]["S"])) for page in pages for item in page["Items"]]


def counter_keys(campaign: Campaign, today: date) -> list[CounterKey]:
    """The legacy counters in all the campaign can have: over the campaign (its statistics at least) and, with a
    daily limit in all, each day the TTL still keeps (a day either side, whatever the program's time zone)."""
    keys = [CounterKey(campaign.campaign_id, "campaign", "campaign")]
    if any(limit.per == "campaign" and limit.period == "day" for limit in campaign.limits):
        keys += [CounterKey(campaign.campaign_id, "campaign", (today - timedelta(days=back)).isoformat())
                 for back in range(-1, DAYS_KEPT + 1)]
    return keys


def _usage(item: dict | None) -> Usage:
    item = item or {}
    return Usage(int(item.get("points", {"N": "0"})["N"]), int(item.get("times", {"N": "0"})["N"]))


def _read(client, table: str, keys: Iterable[str]) -> dict[str, dict]:
    wanted = [{"pk": {"S": key}} for key in keys]
    found: dict[str, dict] = {}
    for start in range(0, len(wanted), 100):
        request = {table: {"Keys": wanted[start:start + 100], "ConsistentRead": True}}
        while request:
            answer = client.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table, []):
                found[item["pk"]["S"]] = item
            request = answer.get("UnprocessedKeys") or {}
    return found


def _same(item: dict | None, name: str) -> tuple[str, dict]:
    """A condition that the item still holds what was read (nothing, or these numbers)."""
    if item is None:
        return "attribute_not_exists(pk)", {}
    usage = _usage(item)
    return (f"(attribute_not_exists(points) OR points = :{name}p) AND (attribute_not_exists(times) OR times = :{name}t)",
            {f":{name}p": {"N": str(usage.points)}, f":{name}t": {"N": str(usage.times)}})


def move(client, stats_table: str, key: CounterKey, limits: tuple[int | None, int | None]) -> bool | None:
    """Move one legacy counter into its shards: True moved, False moved before, None no such item."""
    for _ in range(ATTEMPTS):
        shard_keys = [shard_key(key, shard) for shard in range(CAMPAIGN_SHARDS)]
        read = _read(client, stats_table, [legacy_key(key), *shard_keys])
        legacy = read.get(legacy_key(key))
        if legacy is None:
            return None
        if "migrated" in legacy:
            return False
        usage, held = _usage(legacy), [_usage(read.get(pk)) for pk in shard_keys]
        points = split(usage.points, limits[0], [shard.points for shard in held])
        times = split(usage.times, limits[1], [shard.times for shard in held])
        old_condition, old_values = _same(legacy, "old")
        writes = [{"Update": {
            "TableName": stats_table, "Key": {"pk": {"S": legacy_key(key)}}, "UpdateExpression": "SET migrated = :now",
            "ConditionExpression": f"attribute_not_exists(migrated) AND {old_condition}",
            "ExpressionAttributeValues": {":now": {"S": datetime.now(timezone.utc).isoformat()}, **old_values},
        }}]
        for shard, pk in enumerate(shard_keys):
            if not points[shard] and not times[shard]:
                continue
            condition, values = _same(read.get(pk), "was")
            update = {"TableName": stats_table, "Key": {"pk": {"S": pk}}, "ConditionExpression": condition,
                      "UpdateExpression": "ADD points :points, times :times",
                      "ExpressionAttributeValues": {":points": {"N": str(points[shard])}, ":times": {"N": str(times[shard])},
                                                    **values}}
            if "expires" in legacy:  # a day's counter: its shards go with the TTL like the legacy item
                update["UpdateExpression"] += " SET expires = :expires"
                update["ExpressionAttributeValues"][":expires"] = legacy["expires"]
            writes.append({"Update": update})
        try:
            client.transact_write_items(TransactItems=writes)
            return True
        except client.exceptions.TransactionCanceledException:
            continue  # an earn changed a shard (or another run moved the item): read again
    raise RuntimeError(f"{legacy_key(key)}: its shards kept changing over {ATTEMPTS} attempts; run the job again")


def migrate(client, catalog_table: str, stats_table: str, today: date) -> Moved:
    moved = skipped = 0
    for campaign in campaigns(client, catalog_table):
        for key in counter_keys(campaign, today):
            done = move(client, stats_table, key, maxima(campaign, "day" if key.period != "campaign" else "campaign"))
            moved += done is True
            skipped += done is False
    return Moved(moved, skipped)


def main(argv: Sequence[str] | None = None) -> Moved:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog-table", default=os.environ.get("CATALOG_TABLE"), required="CATALOG_TABLE" not in os.environ)
    parser.add_argument("--stats-table", default=os.environ.get("STATS_TABLE"), required="STATS_TABLE" not in os.environ)
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    args = parser.parse_args(argv)
    import boto3

    client = boto3.client("dynamodb", endpoint_url=args.endpoint_url)
    result = migrate(client, args.catalog_table, args.stats_table, datetime.now(timezone.utc).date())
    print(f"{result.items} legacy campaign counters moved into their shards; {result.skipped} moved by an earlier run")
    return result


if __name__ == "__main__":
    main()
