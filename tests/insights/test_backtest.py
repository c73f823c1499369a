"""The backtest: the campaign engine replays the stored purchases of a range with the campaign as if it had been
active; checked against the rule applied here by hand, limits included; and through the route."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest

from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.insights.definitions import INSIGHTS
from loyalty.insights.duckdb_engine import DuckDbEngine
from loyalty.insights.queries import Insights
from loyalty_local.firehose import deliver
from tests.conftest import PROGRAM, call, http_event
from tests.functional.helpers import ADMIN, POS, table_items
from tests.insights.history import History
from tests.insights.test_insights import Frames, MemoryQueries

CAMPAIGN = {
    "campaign_id": "store-bundle", "name": "25 points on a store basket of 2 or more, once a day",
    "starts_at": "2030-01-01T00:00:00Z",  # a draft for later: the backtest replays it as if it had been active
    "conditions": {"all": [{"fact": "order.channel", "op": "eq", "value": "store"},
                           {"fact": "order.item_count", "op": "gte", "value": 2}]},
    "effect": {"type": "bonus", "points": 25},
    "limits": [{"per": "member", "period": "day", "max_times": 1}, {"per": "campaign", "period": "campaign", "max_points": 2000}],
}


def _history(seed: int) -> History:
    rng = random.Random(seed)
    history = History()
    for n in range(60):
        member = f"m{n:03d}"
        history.enroll(member, date(2026, 5, 1))
        for _ in range(rng.randrange(0, 10)):
            history.purchase(member, date(2026, 6, 1) + timedelta(days=rng.randrange(20)), rng.randrange(100, 3000),
                             hour=rng.randrange(7, 22), channel=rng.choice(["store", "app"]), quantity=rng.randrange(1, 4))
    return history


def _expected(history: History, start: date, end: date) -> dict:
    purchases = sorted((e["detail"] for e in history.events if e["detail-type"] == "PointsEarned"),
                       key=lambda d: (d["occurred_at"], d["transaction_id"]))
    once_a_day: set[tuple[str, str]] = set()
    total, by_day, members = 0, defaultdict(lambda: [0, 0]), set()
    for detail in purchases:
        day = detail["occurred_at"][:10]
        if not start.isoformat() <= day <= end.isoformat():
            continue
        if detail["channel"] != "store" or detail["items"][0]["quantity"] < 2 or (detail["member_id"], day) in once_a_day:
            continue
        if total + 25 > 2000:  # the campaign's budget: what is left is given, then nothing
            given = 2000 - total
            if given <= 0:
                continue
        else:
            given = 25
        once_a_day.add((detail["member_id"], day))
        total += given
        by_day[day][0] += 1
        by_day[day][1] += given
        members.add(detail["member_id"])
    return {"points": total, "by_day": by_day, "members": len(members)}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_backtest_awards_what_the_rule_gives_by_hand_with_its_limits(tmp_path, seed):
    history = _history(seed)
    deliver(history.events, tmp_path)
    start, end = date(2026, 6, 3), date(2026, 6, 16)
    insights = Insights(MemoryQueries(), DuckDbEngine(tmp_path), Frames(documents={"store-bundle": CAMPAIGN}),
                        FixedClock(datetime(2026, 7, 1, tzinfo=timezone.utc)), Programs.fixed(PROGRAM, FixedClock(datetime(2027, 1, 5, tzinfo=timezone.utc))))
    query = insights.backtest("store-bundle", INSIGHTS["backtest"].params.model_validate(
        {"from": start.isoformat(), "to": end.isoformat()}))
    expected = _expected(history, start, end)
    answer = query.result
    assert query.status == "succeeded" and answer["points"] == expected["points"] > 0
    assert answer["cost_minor"] == expected["points"] * PROGRAM.point_value_minor
    assert answer["members_matched"] == expected["members"]
    assert len(answer["by_day"]) == (end - start).days + 1
    assert {d["day"]: [d["purchases"], d["points"]] for d in answer["by_day"] if d["purchases"]} == dict(expected["by_day"])
    assert answer["purchases_matched"] == sum(n for n, _ in expected["by_day"].values())


def test_the_budget_cuts_a_long_backtest(tmp_path):
    history = _history(3)
    deliver(history.events, tmp_path)
    insights = Insights(MemoryQueries(), DuckDbEngine(tmp_path), Frames(documents={"store-bundle": CAMPAIGN}),
                        FixedClock(datetime(2026, 7, 1, tzinfo=timezone.utc)), Programs.fixed(PROGRAM, FixedClock(datetime(2027, 1, 5, tzinfo=timezone.utc))))
    answer = insights.backtest("store-bundle", INSIGHTS["backtest"].params.model_validate(
        {"from": "2026-06-01", "to": "2026-06-30"})).result
    assert answer["points"] == _expected(history, date(2026, 6, 1), date(2026, 6, 30))["points"] == 2000


@pytest.mark.usefixtures("tables")
def test_the_route_backtests_a_draft_and_writes_nothing_but_the_query(tmp_path):
    created = call("campaigns", http_event("POST", "/v1/campaigns", body=CAMPAIGN, scopes=ADMIN, sub="b"))
    assert created.status == 201
    before = {name: items for name, items in table_items().items() if name != "InsightQueriesTable"}
    backtest = lambda body, scopes=ADMIN, campaign="store-bundle": call(  # noqa: E731
        "insights", http_event("POST", f"/v1/campaigns/{campaign}/backtest", body=body, scopes=scopes, sub="b"),
        ANALYTICS_DIR=str(tmp_path))
    reply = backtest({"from": "2026-06-01", "to": "2026-06-30"})
    assert reply.status == 200, reply.body
    assert (reply["status"], reply["points"], reply["from"], len(reply["by_day"])) == ("succeeded", 0, "2026-06-01", 30)
    assert {name: items for name, items in table_items().items() if name != "InsightQueriesTable"} == before
    assert backtest({"from": "2026-01-01", "to": "2027-01-02"}).status == 422  # more than 366 days
    assert backtest({"from": "2026-06-01"}).status == 422
    assert backtest({"from": "2026-06-01", "to": "2026-06-30"}, campaign="nope").status == 404
    assert backtest({"from": "2026-06-01", "to": "2026-06-30"}, scopes=POS).status == 403
