"""The insights count the program's local days: with a program in New York, a purchase at 23:30 local time on
6 December (04:30 UTC on the 7th) is a purchase of the 6th; in UTC the same purchase is of the 7th; a campaign's
dates in campaign_lift are its local days too. Run on DuckDB with the SQL translated as for every insight, and the
Trino text parsed back."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timezone

import pytest
import sqlglot

from loyalty.campaigns.store import StoredCampaign
from loyalty.clock import FixedClock
from loyalty.domain.campaigns.document import parse_campaign
from loyalty.domain.holdout import held_out
from loyalty.core.programs import Programs
from loyalty.insights.api import InsightQuery
from loyalty.insights.definitions import INSIGHTS, render
from loyalty.insights.duckdb_engine import DuckDbEngine
from loyalty.insights.local_days import in_time_zone
from loyalty.insights.queries import Insights, StoredCampaignFrames
from loyalty_local.firehose import deliver
from tests.conftest import PROGRAM
from tests.insights.history import History
from tests.insights.test_insights import Frames, MemoryQueries

CLOCK = FixedClock(datetime(2027, 1, 5, tzinfo=timezone.utc))
NEW_YORK = PROGRAM.model_copy(update={"time_zone": "America/New_York"})


def _store(tmp_path):
    history = History()
    history.enroll("m1", date(2026, 12, 1))
    history.purchase("m1", date(2026, 12, 7), 1000, hour=4)  # 04:00 UTC on the 7th: 23:00 on the 6th in New York
    late = history.events[-1]
    for name in ("at", "occurred_at"):  # 23:30 local
        late["detail"][name] = "2026-12-07T04:30:00Z"
    late["time"] = "2026-12-07T04:30:00Z"
    deliver(history.events, tmp_path)
    return tmp_path


def _repeat(root, program, day: str) -> dict:
    insights = Insights(MemoryQueries(), DuckDbEngine(root), Frames(), CLOCK, Programs.fixed(program, CLOCK))
    request = InsightQuery.model_validate({"insight": "repeat_purchase",
                                           "params": {"from": day, "to": day, "within_days": 1}}).root
    query = insights.submit(request.insight, request.params)
    assert query.status == "succeeded", query.error
    return query.result


def test_a_purchase_at_23_30_local_time_falls_on_the_local_day(tmp_path):
    root = _store(tmp_path)
    assert _repeat(root, NEW_YORK, "2026-12-06")["buyers"] == 1
    assert _repeat(root, NEW_YORK, "2026-12-07")["buyers"] == 0
    assert _repeat(root, PROGRAM, "2026-12-06")["buyers"] == 0  # the default program is in UTC: the 7th
    assert _repeat(root, PROGRAM, "2026-12-07")["buyers"] == 1


def test_the_local_reading_keeps_every_file_trino_and_reads_only_the_range_s_partitions():
    values = {"from_day": date(2026, 12, 1), "to_day": date(2026, 12, 6), "until_day": date(2026, 12, 7),
              "within_days": 1, "campaign_id": "c-1", "holdout_percent": 10}
    for name in INSIGHTS:
        sql = in_time_zone(render(name, values), "Europe/Paris", values, name)
        tree = sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
        assert "at_timezone" in sql.lower() and "'Europe/Paris'" in sql
        inner = [select for select in tree.find_all(sqlglot.exp.Select) if "AT_TIMEZONE" in select.sql(dialect="trino")
                 and select.find(sqlglot.exp.Table).name == "events"]
        assert inner, name
        assert all("day <= '2026-12-08'" in select.sql(dialect="trino") for select in inner), name
    assert in_time_zone(render("liability", values), "UTC", values, "liability") == render("liability", values)


class Campaigns:
    """The campaigns' store as campaign_lift reads it (by id)."""

    def __init__(self, *stored: StoredCampaign) -> None:
        self.stored = {item.campaign.campaign_id: item for item in stored}

    def get(self, campaign_id: str) -> StoredCampaign | None:
        return self.stored.get(campaign_id)


def _lift(root, program, campaigns: Campaigns) -> dict:
    insights = Insights(MemoryQueries(), DuckDbEngine(root), StoredCampaignFrames(campaigns), CLOCK,
                        Programs.fixed(program, CLOCK))
    request = InsightQuery.model_validate({"insight": "campaign_lift", "params": {
        "from": "2026-08-01", "to": "2026-10-31", "campaign_id": "autumn"}}).root
    query = insights.submit(request.insight, request.params)
    assert query.status == "succeeded", query.error
    return query.result


def test_campaign_lift_cuts_the_campaign_s_dates_at_the_program_s_local_midnight(tmp_path):
    """A campaign from 22:00 on 31 August to midnight ending 30 September, New York time (02:00 UTC on 1 September
    to 04:00 UTC on 1 October): in New York its days are 31 August to 30 September. Each member buys at 23:00 on
    31 August local (in), 22:00 on 30 September local (in) and 10:00 on 1 October local (out); in UTC the first
    two fall on 1 September and 1 October, and the campaign's days are 1 September to 1 October."""
    campaign = parse_campaign({"campaign_id": "autumn", "name": "autumn", "effect": {"type": "bonus", "points": 10},
                               "starts_at": "2026-09-01T02:00:00Z", "ends_at": "2026-10-01T04:00:00Z",
                               "holdout_percent": 20})
    campaigns = Campaigns(StoredCampaign(campaign, "active", datetime(2026, 8, 1, tzinfo=timezone.utc)))
    history, members = History(), [f"m{n:03d}" for n in range(40)]
    bought = {}  # member: (first evening, last evening, next morning), amounts
    for n, member in enumerate(members):
        history.enroll(member, date(2026, 7, 1))
        amounts = (1000 + n, 2000 + 3 * n, 5000 + 7 * n)
        bought[member] = amounts
        history.purchase(member, date(2026, 9, 1), amounts[0], hour=3)  # 23:00 on 31 August in New York
        history.purchase(member, date(2026, 10, 1), amounts[1], hour=2)  # 22:00 on 30 September in New York
        history.purchase(member, date(2026, 10, 1), amounts[2], hour=14)  # 10:00 on 1 October in New York
    deliver(history.events, tmp_path)

    def expected(counted: tuple[int, ...]) -> dict:
        groups = {False: [], True: []}
        for member in members:
            groups[held_out("autumn", member, 20)].append(sum(bought[member][i] for i in counted))
        return {"treated": statistics.mean(groups[False]), "holdout": statistics.mean(groups[True]),
                "purchases": len(counted)}

    for program, first, last, counted in ((NEW_YORK, "2026-08-31", "2026-09-30", (0, 1)),
                                          (PROGRAM, "2026-09-01", "2026-10-01", (0, 1, 2))):
        answer, want = _lift(tmp_path, program, campaigns), expected(counted)
        assert (answer["from"], answer["to"]) == (first, last), program.time_zone
        assert answer["treated"]["spend_per_member_minor"] == pytest.approx(want["treated"], abs=0.01)
        assert answer["holdout"]["spend_per_member_minor"] == pytest.approx(want["holdout"], abs=0.01)
        assert answer["treated"]["purchases_per_member"] == want["purchases"]
        assert answer["lift"]["spend_per_member_minor"] == pytest.approx(want["treated"] - want["holdout"], abs=0.01)
