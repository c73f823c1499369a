"""The report counters' daily roll-up: an earn writes only its day's items, and what is outstanding and pending at
the end of any day is the roll-up's cumulative item plus the days after it. Reports are exact before, during and
after a roll-up; the roll-up is idempotent and resumable; a report's reads stay bounded by its days."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import boto3
import pytest

from loyalty.jobs import batches as jobs
from loyalty.domain import errors, stats
from loyalty.domain.model import Purchase
from loyalty.reports.api import ProgramReportView
from tests.conftest import PROGRAM, TABLES, make_loyalty
from tests.functional.test_reports import STAFF, _truth, enroll, purchase

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def history(uc, seed: int, steps: int = 120) -> datetime:
    """Enrolments, purchases, returns and redemptions over about 75 days; returns the last moment."""
    rng = random.Random(seed)
    members: list[str] = []
    bought: dict[str, list[tuple[str, int]]] = defaultdict(list)
    clock = START
    for step in range(steps):
        clock += timedelta(minutes=rng.randint(1, 1_800))
        roll = rng.random()
        if roll < 0.15 or not members:
            members.append(enroll(uc, f"r{seed}-{step}@example.com", clock, rng.choice(stats.CHANNELS)))
        elif roll < 0.7:
            member_id, txid, amount = rng.choice(members[-10:]), f"t{step}", rng.randint(100, 60_000)
            purchase(uc, member_id, txid, amount, clock)
            bought[member_id].append((txid, amount))
        elif roll < 0.85 and bought:
            member_id = rng.choice(sorted(bought))
            txid, amount = rng.choice(bought[member_id])
            uc.clock.at = clock
            try:
                uc.return_purchase(STAFF, member_id, transaction_id=txid, return_id=f"r{step}",
                                   amount_minor=rng.randint(1, amount), payload={"s": step})
            except errors.RefundExceedsPurchase:
                pass
        else:
            uc.clock.at = clock
            try:
                uc.redeem(STAFF, rng.choice(members), idempotency_key=f"k{step}", payload={}, points=rng.randint(1, 200))
            except errors.InsufficientPoints:
                pass
    uc.clock.at = clock
    return clock


def check_ranges(uc, rng: random.Random, last: date, count: int = 6) -> None:
    first = START.date()
    for _ in range(count):
        a, b = (first + timedelta(days=rng.randint(0, (last - first).days + 3)) for _ in range(2))
        start, end = min(a, b), max(a, b)
        body = ProgramReportView.of(uc.program_report(start, end), PROGRAM).model_dump(mode="json", by_alias=True)
        truth = _truth(start, end)
        assert {key: body[key] for key in truth} == truth, (start, end)


def stats_items() -> dict[str, dict]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    pages = client.get_paginator("scan").paginate(TableName=TABLES["STATS_TABLE"])
    return {item["pk"]["S"]: item for page in pages for item in page["Items"]}


@pytest.mark.parametrize(("seed", "pending_days"), [(1, 0), (2, 10), (3, 0)])
def test_reports_match_the_ledger_before_during_and_after_the_roll_up(tables, seed, pending_days):
    document = PROGRAM.model_dump(mode="json")
    uc = make_loyalty(program=PROGRAM.model_validate({**document, "earn": {**document["earn"], "pending_days": pending_days}}))
    now = history(uc, seed)
    rng = random.Random(seed)
    check_ranges(uc, rng, now.date())  # nothing rolled up: every day from the first is summed
    rolled = uc.roll_up_counters(now, most=rng.randint(3, 20))  # part of the way: a run that stopped
    assert rolled and rolled[0] == uc.reports.reports.report_basis()[1]  # from the first day counted
    check_ranges(uc, rng, now.date())  # ranges before, across and after the last day rolled up
    rest = uc.roll_up_counters(now)
    assert rest[0] == rolled[-1] + timedelta(days=1) and rest[-1] == now.date() - timedelta(days=stats.SETTLE_DAYS)
    check_ranges(uc, rng, now.date())
    # Days the roll-up has passed still take late writes nowhere: new purchases land on today, after the roll-up.
    member_id = enroll(uc, f"late{seed}@example.com", now)
    purchase(uc, member_id, "late", 5_000, now)
    check_ranges(uc, rng, now.date())


def test_the_roll_up_is_idempotent_resumable_and_safe_beside_another_run(tables):
    uc = make_loyalty()
    now = history(uc, 7)
    in_steps = []
    while days := uc.roll_up_counters(now, most=4):  # a run that stops every 4 days, taken up by the next
        in_steps += days
    after_steps = {key: item for key, item in stats_items().items() if key.startswith(("C#", "ROLLUP"))}
    assert uc.roll_up_counters(now) == []  # run again: nothing to add, nothing changes
    assert {key: item for key, item in stats_items().items() if key.startswith(("C#", "ROLLUP"))} == after_steps
    # Started afresh in one run, and in two runs at once: the same items.
    client = boto3.client("dynamodb", region_name="us-east-1")
    for key in after_steps:
        client.delete_item(TableName=TABLES["STATS_TABLE"], Key={"pk": {"S": key}})
    runs = [make_loyalty(at=now) for _ in range(2)]
    threads = [threading.Thread(target=run.roll_up_counters, args=(now,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert uc.roll_up_counters(now) == []
    assert {key: item for key, item in stats_items().items() if key.startswith(("C#", "ROLLUP"))} == after_steps
    assert len([key for key in after_steps if key.startswith("C#")]) == len(in_steps)
    # Each cumulative item is the sum of every day through it, counted independently from the day items.
    days = defaultdict(lambda: defaultdict(int))
    for key, item in stats_items().items():
        if key.startswith("D#"):
            for name in stats.CUMULATED:
                days[key.split("#")[1]][name] += int(item[name]["N"]) if name in item else 0
    for day in in_steps:
        expected = {name: sum(values[name] for when, values in days.items() if when <= day.isoformat())
                    for name in stats.CUMULATED}
        item = after_steps[f"C#{day.isoformat()}"]
        assert {name: int(item[name]["N"]) for name in stats.CUMULATED} == expected


def test_an_earn_writes_only_its_day_items_and_the_roll_up_is_a_daily_job(tables):
    uc = make_loyalty(at=START)
    member_id = enroll(uc, "one@example.com", START)
    written: list[str] = []
    uc.store.on_request(lambda operation, params: written.extend(
        item.get("Update", {}).get("Key", {}).get("pk", {}).get("S", "")
        for item in params.get("TransactItems", []) if item.get("Update", {}).get("TableName") == TABLES["STATS_TABLE"]))
    uc.clock.at = START + timedelta(days=1)
    uc.earn(STAFF, member_id, Purchase("t1", 2_000, "EUR"), payload={})
    assert written and all(key.startswith("D#") for key in written), written
    # The daily schedule queues one roll-up message; the worker rolls up the settled days.
    sent: list[jobs.Batch] = []
    later = START + timedelta(days=stats.SETTLE_DAYS + 3)
    uc.clock.at = later
    dispatcher = jobs.Dispatcher(jobs.JobIndex(uc.store.tables.members, 1), uc.clock, sent.extend)
    assert dispatcher.dispatch(jobs.ROLLUP, later) == 0 and [batch.job for batch in sent] == [jobs.ROLLUP]
    result = jobs.Worker(uc.jobs, uc.reports).work(jobs.Batch.from_json(sent[0].to_json()))
    assert result["changed"] == 4  # START .. START + 3 days
    assert jobs.Worker(uc.jobs, uc.reports).work(sent[0])["changed"] == 0  # delivered again: nothing more


def test_a_report_reads_its_days_one_cumulative_item_and_a_few_days_since_the_roll_up():
    first, today = date(2023, 1, 1), date(2026, 6, 30)
    rolled = today - timedelta(days=stats.SETTLE_DAYS)
    long_ago = stats.plan(date(2024, 3, 1), date(2024, 3, 31), today, first, 0, rolled)
    assert long_ago.cumulative_day == date(2024, 3, 31) and long_ago.summed_days == []
    assert {bucket.kind for bucket in long_ago.buckets()} == {stats.DAY, stats.CUMULATIVE}
    assert len(long_ago.buckets()) == 31 + 1
    recent = stats.plan(today - timedelta(days=2), today, today, first, 0, rolled)
    assert recent.cumulative_day == rolled and len(recent.summed_days) == stats.SETTLE_DAYS
    assert len(set(recent.read_days) | set(recent.summed_days)) <= stats.SETTLE_DAYS + 3
    never = stats.plan(date(2023, 2, 1), date(2023, 2, 2), today, first, 0, None)  # before any roll-up: exact, longer
    assert never.cumulative_day is None and never.summed_days[0] == first
    future = stats.plan(date(9999, 12, 31), date(9999, 12, 31), today, first, 10, rolled)
    assert future.summed_days[-1] == today + timedelta(days=12)  # nothing is written after the horizon
    assert stats.plan(date(2022, 1, 1), date(2022, 1, 2), today, first, 0, rolled).buckets() == []
