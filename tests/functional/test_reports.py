"""The program report: exact figures from counters, never from members or the ledger."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone

import boto3
import pytest

from loyalty.domain import errors
from loyalty.domain.access import POS_SCOPE, Caller
from tests.conftest import PROGRAM, LambdaContext, call, http_event, load_function, make_loyalty

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))
START = datetime(2026, 9, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock_file(tables, tmp_path_factory):
    """The handlers' business clock: the local runtime's offset file (LOCAL_CLOCK_FILE), which `at` moves."""
    return tmp_path_factory.getbasetemp() / "business-clock.json"


def at(moment: datetime, clock_file) -> dict:
    """Run the handlers as if it were `moment`; returns the environment that gives them this clock."""
    clock_file.write_text(json.dumps({"offset_seconds": (moment - datetime.now(timezone.utc)).total_seconds()}))
    return {"LOCAL_CLOCK_FILE": str(clock_file)}


def report(start: str, end: str, accept: str | None = None, scopes: str = "loyalty/admin", env: dict | None = None):
    headers = {"accept": accept} if accept else None
    event = http_event("GET", "/v1/reports/program", query={"from": start, "to": end}, scopes=scopes, headers=headers)
    return call("report", event, **(env or {}))


@pytest.fixture
def uc(tables):
    """The use cases, on a FixedClock that each helper sets."""
    return make_loyalty()


def enroll(uc, email: str, now: datetime, channel: str = "store") -> str:
    uc.clock.at = now
    return uc.enroll(STAFF, email=email, channel=channel).member_id


def purchase(uc, member_id: str, txid: str, amount: int, now: datetime):
    from loyalty.domain.model import Purchase

    uc.clock.at = now
    return uc.earn(STAFF, member_id, Purchase(txid, amount, "EUR"), payload={"t": txid, "a": amount})


def test_a_member_active_on_three_days_is_one_active_member(uc, clock_file):
    ann = enroll(uc, "ann@example.com", START, "app")
    bob = enroll(uc, "bob@example.com", START, "web")
    enroll(uc, "cy@example.com", START + timedelta(days=1), "social")
    for day, txid in ((0, "a1"), (1, "a2"), (2, "a3")):
        purchase(uc, ann, txid, 1_000, START + timedelta(days=day))
    purchase(uc, bob, "b1", 2_500, START + timedelta(days=1))
    uc.clock.at = START + timedelta(days=2)
    uc.redeem(STAFF, ann, idempotency_key="k1", payload={}, points=20)
    env = at(START + timedelta(days=3), clock_file)
    body = report("2026-09-25", "2026-09-27", env=env).body
    assert body["enrollments"] == 3
    assert body["enrollments_by_channel"] == {"app": 1, "web": 1, "store": 0, "social": 1, "partner": 0}
    assert (body["active_members"], body["repeat_purchasers"], body["purchases"]) == (2, 1, 4)
    assert body["repeat_purchase_rate"] == 0.5
    assert body["revenue_minor"] == 5_500
    assert body["points_issued"] == 150 + 30 + 25 and body["points_redeemed"] == 20
    assert body["redemption_rate"] == round(20 / 205, 4)
    assert body["outstanding_points"] == 185 and body["outstanding_liability_minor"] == 185 * PROGRAM.point_value_minor
    assert body["tier_distribution"] == {"Bronze": 3, "Silver": 0, "Gold": 0, "Platinum": 0}
    assert [day["active_members"] for day in body["daily"]] == [1, 2, 1]
    later = report("2026-09-26", "2026-09-27", env=env).body  # Ann's purchase on the 25th is before this range
    assert (later["active_members"], later["repeat_purchasers"]) == (2, 1)


def test_days_are_utc_and_a_purchase_near_midnight_counts_on_its_own_day(uc, clock_file):
    member_id = enroll(uc, "ann@example.com", START)
    purchase(uc, member_id, "late", 1_000, datetime(2026, 9, 25, 23, 59, 59, tzinfo=timezone.utc))
    purchase(uc, member_id, "early", 2_000, datetime(2026, 9, 26, 0, 0, 1, tzinfo=timezone.utc))
    env = at(START + timedelta(days=2), clock_file)
    daily = {day["date"]: day for day in report("2026-09-25", "2026-09-26", env=env)["daily"]}
    assert daily["2026-09-25"]["revenue_minor"] == 1_000 and daily["2026-09-26"]["revenue_minor"] == 2_000
    assert report("2026-09-25", "2026-09-26", env=env)["time_zone"] == "UTC"


def test_a_program_time_zone_moves_the_day_boundary(tables):
    uc = make_loyalty(program=PROGRAM.model_copy(update={"time_zone": "America/New_York"}))
    member_id = enroll(uc, "ann@example.com", START)
    purchase(uc, member_id, "night", 1_000, datetime(2026, 9, 26, 3, 0, tzinfo=timezone.utc))  # 23:00 on the 25th in New York
    uc.clock.at = START + timedelta(days=3)
    assert uc.program_report(date(2026, 9, 25), date(2026, 9, 25)).total("revenue_minor") == 1_000
    assert uc.program_report(date(2026, 9, 26), date(2026, 9, 26)).total("purchases") == 0


def test_csv_has_a_row_per_day_and_a_totals_row(uc, clock_file):
    member_id = enroll(uc, "ann@example.com", START)
    purchase(uc, member_id, "a", 1_000, START)
    purchase(uc, member_id, "b", 1_000, START + timedelta(days=1))
    env = at(START + timedelta(days=2), clock_file)
    response = load_function("report", **env).lambda_handler(
        http_event("GET", "/v1/reports/program", query={"from": "2026-09-25", "to": "2026-09-27"}, scopes="loyalty/admin",
                   headers={"accept": "text/csv"}),
        LambdaContext(),
    )
    assert response["statusCode"] == 200 and response["headers"]["Content-Type"].startswith("text/csv")
    rows = [line.split(",") for line in response["body"].strip().split("\r\n")]
    assert rows[0][0] == "date" and [row[0] for row in rows[1:]] == ["2026-09-25", "2026-09-26", "2026-09-27", "total"]
    column = rows[0].index("active_members")
    assert [row[column] for row in rows[1:]] == ["1", "1", "0", "1"]


@pytest.mark.parametrize(
    ("start", "end", "scopes", "status", "code"),
    [
        ("2026-09-10", "2026-09-01", "loyalty/admin", 422, "INVALID_RANGE"),
        ("2025-01-01", "2026-09-01", "loyalty/admin", 422, "INVALID_RANGE"),
        ("2026-13-01", "2026-09-01", "loyalty/admin", 422, "VALIDATION_ERROR"),
        ("yesterday", "2026-09-01", "loyalty/admin", 422, "VALIDATION_ERROR"),
        ("2026-09-01", "2026-09-02", "loyalty/pos", 403, "FORBIDDEN"),
        ("2026-09-01", "2026-09-02", "loyalty/member", 403, "FORBIDDEN"),
    ],
)
def test_bad_ranges_and_callers_are_refused(tables, start, end, scopes, status, code):
    reply = report(start, end, scopes=scopes)
    assert (reply.status, reply["code"]) == (status, code)


def test_the_report_reads_only_counters_and_its_cost_follows_the_days(uc, clock_file):
    for index in range(30):
        member_id = enroll(uc, f"m{index}@example.com", START)
        purchase(uc, member_id, "t", 1_000, START)
    operations: list[tuple[str, str]] = []
    uc.store.on_request(lambda operation, params: operations.append(
        (operation, ",".join(sorted(params.get("RequestItems", {})) or [params.get("TableName", "")]))
    ))
    uc.clock.at = START + timedelta(days=1)
    uc.program_report(date(2026, 9, 25), date(2026, 9, 25))
    assert operations and {op for op, _ in operations} == {"BatchGetItem"} and {t for _, t in operations} == {"StatsTable"}
    one_day = len(operations)
    operations.clear()
    uc.program_report(date(2026, 8, 26), date(2026, 9, 25))
    assert len(operations) <= 4 * one_day  # 31 days x 8 shards in batches of 100


def test_activity_filters_by_day(uc):
    member_id = enroll(uc, "ann@example.com", START)
    for day in range(4):
        purchase(uc, member_id, f"t{day}", 1_000, START + timedelta(days=day))
    entries, _ = uc.activity(STAFF, member_id, 20, None, date(2026, 9, 26), date(2026, 9, 27))
    assert [entry.transaction_id for entry in entries] == ["t2", "t1"]
    reply = call("report", http_event("GET", f"/v1/members/{member_id}/activity", query={"from": "2026-09-28", "to": "2026-09-28"}))
    assert [item["transaction_id"] for item in reply["items"]] == ["t3"]
    reversed_range = call("report", http_event("GET", f"/v1/members/{member_id}/activity", query={"from": "2026-09-28", "to": "2026-09-01"}))
    assert reversed_range.status == 422 and reversed_range["code"] == "INVALID_RANGE"


# ------------------------------------------------------------------ the truth check


def _scan(table: str) -> list[dict]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return [item for page in client.get_paginator("scan").paginate(TableName=table) for item in page["Items"]]


def _truth(start: date, end: date) -> dict:
    """Every report figure recomputed from the ledger and the members themselves."""
    members = [item for item in _scan("MembersTable") if item["pk"]["S"].startswith("M#")]
    entries = [item for item in _scan("LedgerTable") if "created_seq" in item]  # not the consent records
    day_of = lambda item: datetime.fromisoformat(item["created_at"]["S"]).astimezone(timezone.utc).date()  # noqa: E731
    in_range = [e for e in entries if start <= day_of(e) <= end]
    points = lambda e: int(e["points"]["N"])  # noqa: E731
    enrolled = [m for m in members if start <= datetime.fromisoformat(m["enrolled_at"]["S"]).date() <= end]
    purchases = Counter(e["member_id"]["S"] for e in in_range if e["type"]["S"] == "earn")
    pending = _pending_at(entries, end, day_of)
    return {
        "enrollments": len(enrolled),
        "enrollments_by_channel": {c: sum(m["channel"]["S"] == c for m in enrolled) for c in ("app", "web", "store", "social", "partner")},
        "purchases": sum(purchases.values()),
        "active_members": len(purchases),
        "repeat_purchasers": sum(count >= 2 for count in purchases.values()),
        "revenue_minor": sum(int(e["amount_minor"]["N"]) for e in in_range if e["type"]["S"] == "earn"),
        "refunds_minor": sum(int(e["amount_minor"]["N"]) for e in in_range if e["type"]["S"] == "return"),
        "points_issued": sum(points(e) for e in in_range if e["type"]["S"] in ("earn", "bonus") and points(e) > 0),
        "points_redeemed": -sum(points(e) for e in in_range if e["type"]["S"] == "redeem"),
        "points_returned": -sum(points(e) for e in in_range if e["type"]["S"] == "return"),
        "points_expired": -sum(points(e) for e in in_range if e["type"]["S"] == "expire"),
        "outstanding_points": sum(points(e) for e in entries if day_of(e) <= end) - pending,
        "points_pending": pending,
        "tier_distribution": {tier.name: sum(m["tier"]["S"] == tier.name for m in members) for tier in PROGRAM.tiers},
    }


def _pending_at(entries: list[dict], end: date, day_of) -> int:
    """Purchase points held at the end of `end`: credited by then, available after it, less what returns took."""
    def day(stored: str) -> date:
        return datetime.fromisoformat(stored).astimezone(timezone.utc).date()

    held = sum(int(e["points"]["N"]) for e in entries if "available_at" in e and day_of(e) <= end
               and day(e["available_at"]["S"]) > end and e["available_at"]["S"] > e["created_at"]["S"])
    taken = sum(int(points["N"]) for e in entries if "pending_consumed" in e and day_of(e) <= end
                for key, points in e["pending_consumed"]["M"].items() if day(key) > end)
    return held - taken


@pytest.mark.parametrize(("seed", "pending_days"), [(1, 0), (2, 0), (3, 0), (4, 7), (5, 20)])
def test_truth_check_every_figure_matches_the_ledger(tables, seed, pending_days):
    document = PROGRAM.model_dump(mode="json")
    uc = make_loyalty(program=PROGRAM.model_validate({**document, "earn": {**document["earn"], "pending_days": pending_days}}))
    rng = random.Random(seed)
    members: list[str] = []
    purchases: dict[str, list[tuple[str, int]]] = defaultdict(list)
    clock = START
    for step in range(160):
        clock += timedelta(minutes=rng.randint(1, 900))  # about 50 days, across a month end and midnights
        action = rng.random()
        if action < 0.15 or not members:
            channel = rng.choice(["app", "web", "store", "social", "partner"])
            members.append(enroll(uc, f"u{seed}-{step}@example.com", clock, channel))
        elif action < 0.65:
            member_id = rng.choice(members[-12:])  # a recent few, so members come back
            txid = f"t{step}"
            amount = rng.randint(100, 80_000)
            purchase(uc, member_id, txid, amount, clock)
            purchases[member_id].append((txid, amount))
        elif action < 0.8 and purchases:
            member_id = rng.choice(sorted(purchases))
            txid, amount = rng.choice(purchases[member_id])
            try:
                uc.clock.at = clock
                uc.return_purchase(STAFF, member_id, transaction_id=txid, return_id=f"r{step}",
                                   amount_minor=rng.randint(1, amount), payload={"s": step})
            except errors.RefundExceedsPurchase:
                pass
        else:
            member_id = rng.choice(members)
            try:
                uc.clock.at = clock
                uc.redeem(STAFF, member_id, idempotency_key=f"k{step}", payload={}, points=rng.randint(1, 300))
            except errors.InsufficientPoints:
                pass
    today = clock.date()
    first = START.date()
    for _ in range(8):
        a = first + timedelta(days=rng.randint(0, (today - first).days))
        b = first + timedelta(days=rng.randint(0, (today - first).days))
        start, end = min(a, b), max(a, b)
        uc.clock.at = clock
        figures = uc.program_report(start, end)
        from loyalty.reports.api import ProgramReportView

        body = ProgramReportView.of(figures, PROGRAM).model_dump(mode="json", by_alias=True)
        truth = _truth(start, end)
        assert {key: body[key] for key in truth} == truth, (start, end)
