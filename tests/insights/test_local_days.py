"""The insights count the program's local days: with a program in New York, a purchase at 23:30 local time on
6 December (04:30 UTC on the 7th) is a purchase of the 6th; in UTC the same purchase is of the 7th. Run on DuckDB
with the SQL translated as for every insight, and the Trino text parsed back."""

from __future__ import annotations

from datetime import date, datetime, timezone

import sqlglot

from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.insights.api import InsightQuery
from loyalty.insights.definitions import INSIGHTS, render
from loyalty.insights.duckdb_engine import DuckDbEngine
from loyalty.insights.local_days import in_time_zone
from loyalty.insights.queries import Insights
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
