"""The upgrade job that moves campaign counters in all written before the shards into them
(ops/shard_campaign_counters.py), on items written the way the code before the shards wrote them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS
from ops.shard_campaign_counters import migrate
from tests.conftest import REGION, TABLES
from tests.functional.test_campaign_earn import activate, counter, earn, in_all
from tests.functional.helpers import enroll

pytestmark = pytest.mark.usefixtures("tables")

BUDGET = {"campaign_id": "budget", "name": "10 points, 100 in all, 10 times a day in all", "priority": 5,
          "effect": {"type": "bonus", "points": 50},
          "limits": [{"per": "campaign", "period": "campaign", "max_points": 100},
                     {"per": "campaign", "period": "day", "max_times": 10}]}
PLAIN = {"campaign_id": "plain", "name": "no limit", "effect": {"type": "bonus", "points": 10}}


def client():
    return boto3.client("dynamodb", region_name=REGION)


def write_legacy(pk: str, points: int, times: int, expires: int | None = None) -> None:
    """What the code before the shards wrote: ADD points, times to one item per counter in all."""
    update, values = "ADD points :p, times :t", {":p": {"N": str(points)}, ":t": {"N": str(times)}}
    if expires is not None:
        update += " SET expires = :e"
        values[":e"] = {"N": str(expires)}
    client().update_item(TableName=TABLES["STATS_TABLE"], Key={"pk": {"S": pk}}, UpdateExpression=update,
                         ExpressionAttributeValues=values)


def shards(campaign_id: str, period: str) -> list[dict | None]:
    return [counter(f"CL#{campaign_id}#*#{period}#{shard}") for shard in range(CAMPAIGN_SHARDS)]


def stats_items() -> list[dict]:
    items = client().scan(TableName=TABLES["STATS_TABLE"], ConsistentRead=True)["Items"]
    return sorted(({name: value for name, value in item.items() if name != "migrated"} | {"marked": "migrated" in item}
                   for item in items if item["pk"]["S"].startswith("CL#")), key=lambda item: item["pk"]["S"])


class Interrupted(Exception):
    pass


class CrashingClient:
    """A DynamoDB client that dies after `transactions` transactions, as a job killed half way would."""

    def __init__(self, real, transactions: int) -> None:
        self.real, self.left = real, transactions
        self.exceptions = real.exceptions

    def transact_write_items(self, **request):
        if not self.left:
            raise Interrupted
        self.left -= 1
        return self.real.transact_write_items(**request)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def legacy():
    """Two live campaigns whose counters in all were written before the shards."""
    activate(BUDGET, PLAIN)
    today = datetime.now(timezone.utc).date()
    expires = int((datetime.now(timezone.utc) + timedelta(days=8)).timestamp())
    write_legacy("CL#budget#*#campaign", points=63, times=7)  # 63 of the budget's 100 points given, 7 purchases
    write_legacy(f"CL#budget#*#{today.isoformat()}", points=63, times=7, expires=expires)  # all of them today
    write_legacy("CL#plain#*#campaign", points=40, times=4)  # statistics only
    return today


def test_after_the_migration_the_budget_left_and_the_statistics_are_exactly_what_they_were(legacy):
    today = legacy.isoformat()
    moved = migrate(client(), TABLES["CATALOG_TABLE"], TABLES["STATS_TABLE"], legacy)
    assert (moved.items, moved.skipped) == (3, 0)

    # Budget 100 over 5 shards: shares of 20; 63 points fill shards 0-2 and 3 of shard 3.
    assert [shard["points"] if shard else 0 for shard in shards("budget", "campaign")] == [20, 20, 20, 3, 0]
    assert in_all("budget") == {"points": 63, "times": 7}
    assert in_all("plain") == {"points": 40, "times": 4}
    # 10 times a day: shares of 2; 7 times fill 2, 2, 2, 1; its points have no limit (all in shard 0).
    assert [shard["times"] if shard else 0 for shard in shards("budget", today)] == [2, 2, 2, 1, 0]
    assert all(shard is None or "expires" in shard for shard in shards("budget", today))

    # What is left is what was left: 37 points of the budget, then nothing.
    member = enroll(email="after@example.com")["member_id"]
    first = earn(member, "t-1")
    assert first["limited"] == [{"campaign_id": "budget", "wanted": 50, "given": 37}]
    second = earn(member, "t-2")
    assert "budget" not in {line["campaign_id"] for line in second["breakdown"]}
    assert in_all("budget") == {"points": 100, "times": 8}


def test_a_second_run_changes_nothing(legacy):
    migrate(client(), TABLES["CATALOG_TABLE"], TABLES["STATS_TABLE"], legacy)
    after_first = stats_items()
    again = migrate(client(), TABLES["CATALOG_TABLE"], TABLES["STATS_TABLE"], legacy)
    assert (again.items, again.skipped) == (0, 3)
    assert stats_items() == after_first


@pytest.mark.parametrize("transactions", [0, 1, 2])
def test_a_run_interrupted_half_way_then_rerun_ends_as_one_run(legacy, transactions):
    with pytest.raises(Interrupted):
        migrate(CrashingClient(client(), transactions), TABLES["CATALOG_TABLE"], TABLES["STATS_TABLE"], legacy)
    rerun = migrate(client(), TABLES["CATALOG_TABLE"], TABLES["STATS_TABLE"], legacy)
    assert (rerun.items, rerun.skipped) == (3 - transactions, transactions)
    assert in_all("budget") == {"points": 63, "times": 7}
    assert in_all("budget", legacy.isoformat()) == {"points": 63, "times": 7}
    assert in_all("plain") == {"points": 40, "times": 4}
    assert all(item["marked"] for item in stats_items() if item["pk"]["S"].count("#") == 3)  # every legacy item


def test_an_earn_landing_on_a_shard_while_the_job_reads_makes_it_read_again(legacy):
    """The job writes a shard only if it still holds what was read: an earn in between is not lost."""
    member = enroll(email="during@example.com")["member_id"]

    class EarnInBetween(CrashingClient):
        def transact_write_items(self, **request):
            if self.left:  # once, between the job's read and its write
                self.left = 0
                earn(member, "t-between")  # the sharded code sees 0 of the budget used: gives 50
            return self.real.transact_write_items(**request)

    migrate(EarnInBetween(client(), 1), TABLES["CATALOG_TABLE"], TABLES["STATS_TABLE"], legacy)
    # 50 given while the legacy 63 were not yet read: the budget was overspent in that window, and stays closed.
    assert in_all("budget") == {"points": 113, "times": 8}
    assert all(shard["points"] >= 20 for shard in shards("budget", "campaign")[:4])
    nothing = earn(member, "t-after")
    assert "budget" not in {line["campaign_id"] for line in nothing["breakdown"]}
