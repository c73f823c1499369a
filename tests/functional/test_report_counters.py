"""The report's counters at any traffic and age: exact active members and repeat purchasers for any range, on
days counted by gap since the previous purchase and on days written by the old pair scheme; bounded items;
dates up to the end of the calendar; unprocessed BatchGetItem keys sent again after a backoff."""

from __future__ import annotations

import itertools
import random
from contextlib import contextmanager
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.domain import errors, stats
from loyalty.domain.access import ADMIN_SCOPE, POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from loyalty.store import keys
from loyalty.store.transaction import Backoff, batch_get_all
from tests.conftest import PROGRAM, REGION, TABLES, LambdaContext, http_event, load_function, make_loyalty
from tests.functional.test_reports import report

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))
ADMIN = Caller(sub="office", scopes=frozenset({ADMIN_SCOPE}))
START = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def brute_force(purchase_days: dict[str, list[date]], start: date, end: date) -> tuple[int, int, int]:
    """(active members, repeat purchasers, purchases) in [start, end], counted member by member."""
    counts = Counter({member: sum(start <= day <= end for day in days) for member, days in purchase_days.items()})
    return sum(count >= 1 for count in counts.values()), sum(count >= 2 for count in counts.values()), sum(counts.values())


def figures(uc, start: date, end: date) -> tuple[int, int, int]:
    found = uc.program_report(start, end)
    return found.active, found.repeat, found.total("purchases")


# ------------------------------------------------------------------ dates the calendar can hold


@pytest.mark.parametrize(("start", "end"), [("9999-12-31", "9999-12-31"), ("9999-01-01", "9999-12-31"),
                                            ("0001-01-01", "0001-01-01"), ("9999-12-01", "9999-12-31")])
@pytest.mark.parametrize("accept", [None, "text/csv"])
def test_a_report_of_any_date_the_calendar_holds_answers(tables, start, end, accept):
    days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    if accept is None:
        reply = report(start, end)
        assert reply.status == 200, reply.body
        assert (reply["purchases"], reply["active_members"], len(reply["daily"])) == (0, 0, days)
        return
    response = load_function("report").lambda_handler(
        http_event("GET", "/v1/reports/program", query={"from": start, "to": end}, scopes="loyalty/admin",
                   headers={"accept": accept}), LambdaContext())
    assert response["statusCode"] == 200, response["body"]
    rows = response["body"].strip().split("\r\n")
    assert len(rows) == 1 + days + 1 and rows[-2].startswith(end) and rows[1].startswith(start)


def test_a_report_of_december_9999_after_real_purchases_is_empty_but_walks_nothing_back(tables):
    uc = make_loyalty(at=START)
    member_id = uc.enroll(STAFF, email="ann@example.com", channel="store").member_id
    uc.earn(STAFF, member_id, Purchase("t1", 1_000, "EUR"), payload={})
    balance = uc.store.get_member(member_id).balance  # the welcome bonus and the purchase: all outstanding
    found = uc.program_report(date(9999, 12, 31), date(9999, 12, 31))
    assert (found.active, found.total("purchases"), found.outstanding_points) == (0, 0, balance)
    assert balance > 0


# ------------------------------------------------------------------ the property over random histories


MEMBERS = 4
action = st.tuples(
    st.integers(0, MEMBERS - 1),  # who
    st.integers(0, 480),  # day offset: gaps of a day, weeks, months and over a year
    st.sampled_from(["buy", "buy", "buy", "buy", "return", "redeem", "erase"]),
)
window = itertools.count()


@contextmanager
def own_tables():
    """A moto of the example's own: the tables do not grow with every example before it (one shared moto made
    the property take minutes and gigabytes)."""
    from moto import mock_aws

    from loyalty_local.template import create_tables

    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name=REGION))
        yield


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=1, max_size=24), ranges=st.lists(st.tuples(st.integers(0, 480), st.integers(0, 365)),
                                                                           min_size=1, max_size=6),
       pending_days=st.sampled_from([0, 10]))
def test_active_and_repeat_match_a_count_over_the_history_for_any_range(actions, ranges, pending_days):
    with own_tables():
        example = next(window)
        origin = START + timedelta(days=800 * example)  # its own stretch of days, as well as its own tables
        document = PROGRAM.model_dump(mode="json")
        uc = make_loyalty(at=origin, program=PROGRAM.model_validate(
            {**document, "earn": {**document["earn"], "pending_days": pending_days}}))
        ids = [uc.enroll(STAFF, email=f"p{example}-{index}@example.com", channel="app").member_id for index in range(MEMBERS)]
        bought: dict[str, list[date]] = defaultdict(list)
        transactions: dict[str, list[str]] = defaultdict(list)
        erased: set[str] = set()
        for step, (who, offset, kind) in enumerate(sorted(actions, key=lambda act: act[1])):
            member_id = ids[who]
            if member_id in erased:
                continue
            uc.clock.at = origin + timedelta(days=offset, minutes=step)  # several members on one day, in order
            if kind == "buy":
                uc.earn(STAFF, member_id, Purchase(f"t{step}", 1_000 + step, "EUR"), payload={"s": step})
                bought[member_id].append(uc.clock.at.date())
                transactions[member_id].append(f"t{step}")
            elif kind == "return" and transactions[member_id]:
                try:
                    uc.return_purchase(STAFF, member_id, transaction_id=transactions[member_id][-1], return_id=f"r{step}",
                                       amount_minor=500, payload={"s": step})
                except errors.RefundExceedsPurchase:
                    pass
            elif kind == "redeem":
                try:
                    uc.redeem(STAFF, member_id, idempotency_key=f"k{step}", payload={}, points=5)
                except errors.InsufficientPoints:
                    pass
            elif kind == "erase":
                uc.erase(ADMIN, member_id)
                erased.add(member_id)
        uc.clock.at = origin + timedelta(days=482)
        for offset, length in ranges:
            start = origin.date() + timedelta(days=offset)
            end = start + timedelta(days=length)
            assert figures(uc, start, end) == brute_force(bought, start, end), (start, end)


# ------------------------------------------------------------------ days written by the old scheme


def write_old_scheme_days(purchase_days: dict[str, list[date]], shards: int = 8) -> None:
    """The day counters as the pair scheme wrote them before (`pf_<p1>`, `pr_<p1>_<p2>` per purchase, the day's
    `purchases`, and `first_day` on a total), with the spelling it used ("none" for no previous purchase)."""
    items: dict[str, Counter] = defaultdict(Counter)
    first_day = min(day for days in purchase_days.values() for day in days)
    for member_id, days in purchase_days.items():
        previous = before_previous = None
        for day in sorted(days):
            item = items[f"D#{day.isoformat()}#{keys.shard_of(member_id, shards)}"]
            item["purchases"] += 1
            item[f"pf_{previous or 'none'}"] += 1
            item[f"pr_{previous or 'none'}_{before_previous or 'none'}"] += 1
            before_previous, previous = previous, day.isoformat()
    client = boto3.client("dynamodb", region_name=REGION)
    for pk, counts in items.items():
        client.put_item(TableName=TABLES["STATS_TABLE"],
                        Item={"pk": {"S": pk}, **{name: {"N": str(value)} for name, value in counts.items()}})
    client.put_item(TableName=TABLES["STATS_TABLE"], Item={"pk": {"S": "T#0"}, "first_day": {"S": first_day.isoformat()}})


def test_days_of_the_old_pair_scheme_and_of_the_gap_scheme_report_together_exactly(tables):
    rng = random.Random(19)
    origin = START.date()
    old: dict[str, list[date]] = {
        f"old-{index}": sorted({origin + timedelta(days=rng.randint(0, 120)) for _ in range(rng.randint(1, 9))})
        for index in range(40)
    }
    write_old_scheme_days(old)
    uc = make_loyalty(at=START)
    new: dict[str, list[date]] = defaultdict(list)
    members = [uc.enroll(STAFF, email=f"n{index}@example.com", channel="web").member_id for index in range(5)]
    moments = sorted((START + timedelta(days=rng.randint(100, 160), hours=rng.randint(0, 11)), rng.choice(members))
                     for _ in range(30))
    for step, (moment, member_id) in enumerate(moments):
        uc.clock.at = moment
        uc.earn(STAFF, member_id, Purchase(f"t{step}", 1_000, "EUR"), payload={})
        new[member_id].append(moment.date())
    everyone = {**old, **new}
    uc.clock.at = START + timedelta(days=170)
    for start_offset, length in [(0, 0), (0, 30), (10, 60), (40, 365), (95, 40), (100, 61), (0, 165), (121, 20), (60, 1)]:
        start = origin + timedelta(days=start_offset)
        end = start + timedelta(days=length)
        assert figures(uc, start, end) == brute_force(everyone, start, end), (start, end)


# ------------------------------------------------------------------ bounded items


def item_bytes(item: dict[str, int | str]) -> int:
    """DynamoDB's size of an item of strings and numbers: names, plus 1 byte per 2 significant digits + 1."""
    def value(raw: int | str) -> int:
        if isinstance(raw, str):
            return len(raw.encode())
        return (len(str(abs(raw)).rstrip("0") or "0") + 1) // 2 + 1
    return sum(len(name.encode()) + value(raw) for name, raw in item.items())


def test_every_counter_item_stays_small_after_a_year_of_daily_purchases():
    """A year of purchases, some member buying every day at gaps from a day to over a year; each counter item
    gets the attributes the earns would give it, each at a count of a 1M-purchases-a-day program's."""
    rng = random.Random(7)
    shards = 8
    attributes: dict[str, set[str]] = defaultdict(set)
    first = date(2026, 1, 1)
    for member in range(3_000):
        member_id = f"m{member}"
        day, previous, before_previous = first + timedelta(days=rng.randint(0, 30)), None, None
        while day < first + timedelta(days=365):
            for chunk, name in stats.purchase_gap_counters(day, previous, before_previous):
                bucket = stats.Bucket(stats.DAY, day.isoformat()) if chunk is None else \
                    stats.Bucket(stats.GAPS, day.isoformat(), chunk)
                attributes[keys.counter_key(bucket, keys.shard_of(member_id, shards))].add(name)
            before_previous, previous = previous, day.isoformat()
            day += timedelta(days=rng.choice([1, 2, 7, 14, 30, 45, 90, 200, 380]))
    fixed = ["enrollments", *[f"enrollments_{channel}" for channel in stats.CHANNELS], "points_issued", "purchases",
             "revenue_minor", "points_redeemed", "points_expired", "points_returned", "refunds_minor", "points_debited",
             "points_forfeited", stats.NET_ATTRIBUTE, stats.PENDING_ATTRIBUTE]
    largest = 0
    for pk, names in attributes.items():
        # 1M purchases a day over 8 shards: 125,000 a shard; money and points at 10^12 (nine digits and more)
        item = {"pk": pk, **{name: 125_000 for name in names}}
        if pk.startswith("D#"):
            item.update({name: -123_456_789_012 for name in fixed})
        largest = max(largest, item_bytes(item))
    assert len([pk for pk in attributes if pk.startswith("G#")]) > 0, "the year has long gaps"
    assert largest <= 1024, f"an earn's counter item reaches {largest} bytes: more than 2 write units"
    assert max(len(names) for names in attributes.values()) <= 2 * max(stats.DENSE_GAPS, stats.GAP_CHUNK)


# ------------------------------------------------------------------ unprocessed keys


class Throttling:
    """A BatchGetItem that leaves all but the first key unprocessed, `times` times, then answers everything."""

    def __init__(self, items: dict[str, dict], times: int) -> None:
        self.items, self.times, self.requests = items, times, []

    def __call__(self, request_items: dict) -> dict:
        self.requests.append(request_items)
        keys_ = request_items["T"]["Keys"]
        served = keys_ if len(self.requests) > self.times else keys_[:1]
        left = keys_[len(served):]
        return {"Responses": {"T": [self.items[key["pk"]["S"]] for key in served]},
                "UnprocessedKeys": {"T": {**request_items["T"], "Keys": left}} if left else {}}


def test_unprocessed_keys_are_sent_again_after_a_capped_exponential_backoff():
    items = {f"k{index}": {"pk": {"S": f"k{index}"}, "n": {"N": str(index)}} for index in range(5)}
    send = Throttling(items, times=4)
    waits: list[float] = []
    backoff = Backoff(first=0.1, cap=0.3, attempts=8, sleep=waits.append, jitter=lambda delay: delay)
    found = batch_get_all(send, {"T": {"Keys": [{"pk": {"S": key}} for key in items], "ConsistentRead": False}}, backoff)
    assert sorted(item["pk"]["S"] for item in found["T"]) == sorted(items)
    assert waits == [0.1, 0.2, 0.3, 0.3]  # doubling, then held at the cap
    assert [len(request["T"]["Keys"]) for request in send.requests] == [5, 4, 3, 2, 1]
    assert all(request["T"]["ConsistentRead"] is False for request in send.requests)


def test_keys_still_unprocessed_after_every_attempt_are_a_busy_answer_to_retry():
    items = {f"k{index}": {"pk": {"S": f"k{index}"}} for index in range(5)}
    waits: list[float] = []
    with pytest.raises(errors.Busy):
        batch_get_all(Throttling(items, times=100), {"T": {"Keys": [{"pk": {"S": key}} for key in items]}},
                      Backoff(attempts=3, sleep=waits.append, jitter=lambda delay: delay))
    assert len(waits) == 2


def test_more_than_100_keys_go_in_batches_of_100():
    items = {f"k{index}": {"pk": {"S": f"k{index}"}} for index in range(250)}
    send = Throttling(items, times=0)
    found = batch_get_all(send, {"T": {"Keys": [{"pk": {"S": key}} for key in items]}}, Backoff(sleep=lambda _: None))
    assert len(found["T"]) == 250 and [len(request["T"]["Keys"]) for request in send.requests] == [100, 100, 50]


# ------------------------------------------------------------------ long gaps, long ranges


def test_a_long_range_reads_for_each_day_the_gap_chunks_up_to_its_offset():
    start = date(2026, 1, 1)
    plan = stats.plan(start, start + timedelta(days=365), start + timedelta(days=400), first_day=start)
    chunks: dict[date, list[int]] = defaultdict(list)
    for bucket in plan.gap_buckets():
        chunks[date.fromisoformat(bucket.period)].append(bucket.part)
    # gaps 0-31 are in the day item; 32-87 in chunk 0, 88-143 in chunk 1, ... 312-365 in chunk 5
    assert start + timedelta(days=31) not in chunks
    assert chunks[start + timedelta(days=32)] == [0] and chunks[start + timedelta(days=87)] == [0]
    assert chunks[start + timedelta(days=88)] == [0, 1]
    assert chunks[start + timedelta(days=365)] == [0, 1, 2, 3, 4, 5]
    assert len(plan.gap_buckets()) == sum(1 + (offset - 32) // 56 for offset in range(32, 366))


def test_purchases_months_apart_count_exactly_in_ranges_that_end_in_every_gap_chunk(tables):
    rng = random.Random(88)
    uc = make_loyalty(at=START)
    members = [uc.enroll(STAFF, email=f"g{index}@example.com", channel="app").member_id for index in range(6)]
    moments = []
    for member_id in members:
        offset = rng.randint(0, 20)
        while offset < 420:
            moments.append((START + timedelta(days=offset, minutes=len(moments)), member_id))
            offset += rng.choice([1, 5, 33, 60, 88, 90, 143, 200, 300, 370])
    bought: dict[str, list[date]] = defaultdict(list)
    for step, (moment, member_id) in enumerate(sorted(moments)):
        uc.clock.at = moment
        uc.earn(STAFF, member_id, Purchase(f"t{step}", 1_000, "EUR"), payload={})
        bought[member_id].append(moment.date())
    uc.clock.at = START + timedelta(days=425)
    origin = START.date()
    for start_offset in range(0, 60, 7):
        for length in (31, 32, 60, 87, 88, 120, 143, 144, 250, 311, 312, 365):
            start = origin + timedelta(days=start_offset)
            end = start + timedelta(days=length)
            assert figures(uc, start, end) == brute_force(bought, start, end), (start, end)
