"""The upgrade job that sets `first_day` on report totals written before it was kept (ops/set_first_day.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import boto3
import pytest

from loyalty.reports.api import ProgramReportView
from ops.set_first_day import set_first_day
from tests.conftest import PROGRAM, REGION, TABLES, make_loyalty
from tests.functional.test_reports import enroll, purchase

pytestmark = pytest.mark.usefixtures("tables")

SHARDS = 8  # the tests' STATS_SHARDS
START = datetime(2026, 9, 3, 10, 0, tzinfo=timezone.utc)


def totals() -> dict[str, dict]:
    client = boto3.client("dynamodb", region_name=REGION)
    pages = client.get_paginator("scan").paginate(TableName=TABLES["STATS_TABLE"])
    return {item["pk"]["S"]: item for page in pages for item in page["Items"] if item["pk"]["S"].startswith("T#")}


def report(uc, start: date, end: date) -> dict:
    return ProgramReportView.of(uc.program_report(start, end), PROGRAM).model_dump(mode="json", by_alias=True)


def test_totals_without_first_day_take_the_earliest_counted_day_once():
    uc = make_loyalty(at=START)
    for index in range(12):  # members enrolled and buying over 12 days, from the first
        moment = START + timedelta(days=index)
        member_id = enroll(uc, f"f{index}@example.com", moment, "app")
        purchase(uc, member_id, f"t{index}", 1_000 + index, moment + timedelta(hours=1))
    uc.clock.at = START + timedelta(days=20)
    before = report(uc, START.date(), START.date() + timedelta(days=19))
    client = boto3.client("dynamodb", region_name=REGION)
    written = totals()
    assert written and all("first_day" in item for item in written.values())
    for pk in written:  # as the code before the marker wrote them
        client.update_item(TableName=TABLES["STATS_TABLE"], Key={"pk": {"S": pk}}, UpdateExpression="REMOVE first_day")
    assert uc.reports.reports.report_basis()[1] == date.min  # nothing known to be empty: every day is read

    result = set_first_day(client, TABLES["STATS_TABLE"], SHARDS)

    assert result.first_day == START.date()
    assert sorted(result.set_on) == sorted(int(pk.split("#")[1]) for pk in written)  # shards with no total stay so
    assert set(totals()) == set(written)
    assert uc.reports.reports.report_basis()[1] == START.date()
    assert report(uc, START.date(), START.date() + timedelta(days=19)) == before
    # A second run (or one after new earns set it) changes nothing; a given first day does not override one set.
    assert set_first_day(client, TABLES["STATS_TABLE"], SHARDS).set_on == ()
    assert set_first_day(client, TABLES["STATS_TABLE"], SHARDS, date(2020, 1, 1)).set_on == ()
    assert uc.reports.reports.report_basis()[1] == START.date()


def test_nothing_counted_sets_nothing():
    client = boto3.client("dynamodb", region_name=REGION)
    assert set_first_day(client, TABLES["STATS_TABLE"], SHARDS).first_day is None
    assert totals() == {}
