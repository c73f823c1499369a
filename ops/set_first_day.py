"""Set `first_day` on report totals written before it was kept (a one-off upgrade job).

Reports and the daily roll-up start from the first day anything was counted, which each shard's total item
(`T#<shard>`) records as `first_day`. Totals written by code older than that marker lack it, and a total without
it means "nothing is known to be empty": a report then sums every day from the beginning of the calendar, and the
roll-up would start there too. This job finds the program's first counted day, the earliest `D#<day>#<shard>` item
of the statistics table (a Scan of keys only: an operator's one-off job, never a request), and sets it on every
shard's total that lacks `first_day` (a conditional update each: a total that has one keeps it, so a second run,
or a run beside new earns, changes nothing).

Run it once after deploying, with the deployment's statistics table (locally: make migrate-first-day):

    python -m ops.set_first_day --stats-table <StatsTable> [--shards 8] [--first-day YYYY-MM-DD]

`--first-day` skips the Scan when the operator knows the day the program began.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

FIRST_DAY = "first_day"  # the attribute reports read (loyalty.store.ledger.FIRST_DAY)


@dataclass(frozen=True)
class Result:
    first_day: date | None  # None: nothing was ever counted, nothing to set
    set_on: tuple[int, ...]  # the shards whose total took it by this run


def earliest_counted_day(client, stats_table: str) -> date | None:
    """The earliest day a `D#<day>#<shard>` counter item exists for, reading keys only."""
    earliest = None
    pages = client.get_paginator("scan").paginate(TableName=stats_table, ProjectionExpression="pk")
    for page in pages:
        for item in page["Items"]:
            parts = item["pk"]["S"].split("#")
            if parts[0] == "D" and len(parts) == 3:
                day = date.fromisoformat(parts[1])
                earliest = day if earliest is None or day < earliest else earliest
    return earliest


def set_first_day(client, stats_table: str, shards: int, first_day: date | None = None) -> Result:
    """Set `first_day` (found when not given) on each shard's total that exists and lacks it."""
    first_day = first_day or earliest_counted_day(client, stats_table)
    if first_day is None:
        return Result(None, ())
    taken = []
    for shard in range(shards):
        try:
            client.update_item(
                TableName=stats_table, Key={"pk": {"S": f"T#{shard}"}}, UpdateExpression="SET #f = :f",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#f)",
                ExpressionAttributeNames={"#f": FIRST_DAY}, ExpressionAttributeValues={":f": {"S": first_day.isoformat()}})
        except client.exceptions.ConditionalCheckFailedException:
            continue  # no total on this shard (nothing counted there: it starts with first_day), or it has one
        taken.append(shard)
    return Result(first_day, tuple(taken))


def main(argv: Sequence[str] | None = None) -> Result:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats-table", default=os.environ.get("STATS_TABLE"), required="STATS_TABLE" not in os.environ)
    parser.add_argument("--shards", type=int, default=int(os.environ.get("STATS_SHARDS", "8")),
                        help="the functions' STATS_SHARDS (default 8)")
    parser.add_argument("--first-day", type=date.fromisoformat, default=None,
                        help="the day the program began (default: the earliest day counted, found by a Scan of keys)")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    args = parser.parse_args(argv)
    import boto3

    client = boto3.client("dynamodb", endpoint_url=args.endpoint_url)
    result = set_first_day(client, args.stats_table, args.shards, args.first_day)
    if result.first_day is None:
        print("nothing was ever counted: nothing to set")
    else:
        print(f"first_day {result.first_day}: set on the totals of shards {list(result.set_on) or 'none (all had it)'}")
    return result


if __name__ == "__main__":
    main()
