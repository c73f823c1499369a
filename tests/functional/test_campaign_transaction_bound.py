"""The worst case of the transaction's 100 items: 16 campaigns near the end of two counters in all each."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import boto3
import pytest

from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS
from loyalty.store.keys import shard_of
from tests.conftest import PROGRAM, REGION, TABLES
from tests.functional.helpers import enroll
from tests.functional.test_campaign_earn import activate, counter, earn

pytestmark = pytest.mark.usefixtures("tables")

BUDGET, DAILY = 100, 50  # shares of 20 and 10


def crowded(index: int) -> dict:
    return {"campaign_id": f"crowd-{index:02d}", "name": f"crowded {index}", "effect": {"type": "bonus", "points": 10},
            "limits": [{"per": "campaign", "period": "campaign", "max_points": BUDGET},
                       {"per": "campaign", "period": "day", "max_points": DAILY},
                       {"per": "member", "period": "day", "max_points": 1000},
                       {"per": "member", "period": "campaign", "max_times": 100}]}


def put_shard(pk: str, points: int) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLES["STATS_TABLE"], Item={"pk": {"S": pk}, "points": {"N": str(points)}, "times": {"N": "1"}})


def test_16_campaigns_whose_home_shards_are_full_earn_201_with_a_consistent_breakdown():
    activate(*(crowded(index) for index in range(16)))
    member_id = enroll(email="crowd@example.com")["member_id"]
    home = shard_of(member_id, CAMPAIGN_SHARDS)
    day = datetime.now(timezone.utc).astimezone(ZoneInfo(PROGRAM.time_zone)).date().isoformat()
    for index in range(16):
        for period, maximum in (("campaign", BUDGET), (day, DAILY)):
            for shard in range(CAMPAIGN_SHARDS):  # home full, one point left in every other shard
                put_shard(f"CL#crowd-{index:02d}#*#{period}#{shard}", maximum // 5 - (0 if shard == home else 1))
    # Spread freely, each of the 32 counters in all would add to 4 shards: 128 items, with 32 member counters and
    # the member, entry and report counters: far over the 100 a transaction holds.
    reply = earn(member_id, "t-crowd")
    assert reply.status == 201, reply.body
    body = reply.body
    lines = {line["campaign_id"]: line["points"] for line in body["breakdown"] if line["source"] == "campaign"}
    assert body["points"] == sum(line["points"] for line in body["breakdown"])
    assert len(lines) == 16 and all(1 <= points <= 4 for points in lines.values())
    assert sum(lines.values()) < 16 * 4  # the bound cut some awards...
    assert {cut["campaign_id"]: (cut["wanted"], cut["given"]) for cut in body["limited"]} == {
        campaign_id: (10, points) for campaign_id, points in lines.items()}  # ...and says so, like any limit
    for campaign_id, points in lines.items():
        for period, maximum in (("campaign", BUDGET), (day, DAILY)):
            shards = [counter(f"CL#{campaign_id}#*#{period}#{shard}") for shard in range(CAMPAIGN_SHARDS)]
            before = 4 * (maximum // 5 - 1) + maximum // 5
            assert sum(shard["points"] for shard in shards) == before + points  # the counters add what was given
            assert all(shard["points"] <= maximum // 5 for shard in shards)  # no shard over its share
    assert counter(f"CL#crowd-00#{member_id}#campaign") == {"points": lines["crowd-00"], "times": 1}
