"""Member facts and segments: the member item's size with facts kept, and segment evaluation's time.

1. The member item after 3 years of daily purchases in 50 categories (three basket lines a day, every category
   bought every few weeks), kept by the domain's own earn rule and the daily expiry job's rule, with 20 attributes
   and 5 activated offers: its size as DynamoDB counts it (attribute names and values; `benchmarks.cost`'s
   rules). Target: at most 4 KB, so an earn's transactional write of the member stays within 8 write units.
2. Segment evaluation for that member: 50 segments of 2-3 tests each over its facts (`domain.segments.segments_of`,
   which computes the facts once and evaluates every rule with the campaign engine's conditions), timed
   in-process, median of many runs. Target: at most 0.2 ms.
The round trips of an earn with 50 segments and 16 audience campaigns are counted by a test
(`tests/segments/test_segment_round_trips.py`): one BatchGetItem and one TransactWriteItems.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta, timezone

from benchmarks.cost import item_size
from benchmarks.environment import verdict

SIZE_TARGET_BYTES = 4 * 1024
EVALUATION_TARGET_MS = 0.2
YEARS, CATEGORIES, SEGMENTS = 3, 50, 50
START = datetime(2024, 1, 1, 9, tzinfo=timezone.utc)


def _member_after_three_years():
    from loyalty.domain import earning, scheduled
    from loyalty.domain.membership import enroll
    from loyalty.domain.model import BasketItem, Profile, Purchase
    from loyalty.program import load_program
    from loyalty.settings import DEFAULT_PROGRAM_FILE

    program = load_program(DEFAULT_PROGRAM_FILE)
    member = enroll("m" + "0" * 20, Profile("someone@example.com", "app", name="Some One", phone="+34 600 000 000"),
                    program, START, sub="a-cognito-subject-0000-0000").member
    now = START
    for day in range(365 * YEARS):
        now = START + timedelta(days=day)
        items = tuple(BasketItem(f"SKU-{(day * 3 + line) % 500:04d}", 700 + line * 100, 1,
                                 f"category-{(day * 3 + line) % CATEGORIES:02d}") for line in range(3))
        purchase = Purchase(f"t-{day}", sum(item.amount_minor for item in items), program.currency, items=items)
        member = earning.earn(member, program, purchase, now, request_hash="0" * 64).member
        expired = scheduled.expire_and_remind(member, program, now)  # the daily job
        if expired:
            member = expired.member
    member = member.copy()
    member.attributes = {f"attribute_{index:02d}": f"value-{index:02d}" for index in range(20)}
    member.activated = {f"campaign-{index}": now for index in range(5)}
    return member, program, now


def _item(member, program) -> dict:
    from loyalty.domain.ledger import job_schedule
    from loyalty.store.models import MemberModel
    from loyalty.store.records import member_to_record

    return member_to_record(member, MemberModel, job_schedule(member, program), job_shards=16).serialize()


def _segments():
    from loyalty.domain.segments import parse_segment

    tests = [
        {"fact": "member.categories_90d", "op": "contains", "value": "category-07"},
        {"fact": "member.days_since_last_purchase", "op": "gt", "value": 30},
        {"fact": "member.spend_90d_minor", "op": "gte", "value": 50_000},
        {"fact": "member.tier", "op": "in", "value": ["Silver", "Gold"]},
        {"fact": "member.attributes.attribute_03", "op": "eq", "value": "value-03"},
        {"fact": "member.redemptions_count", "op": "eq", "value": 0},
        {"fact": "member.categories_90d", "op": "contains_any", "value": ["category-01", "category-49", "x"]},
        {"fact": "member.marketing_opt_in", "op": "eq", "value": True},
    ]
    return [parse_segment({"segment_id": f"s-{index:02d}", "name": f"segment {index}", "conditions": {
        ("all" if index % 2 else "any"): [tests[(index + offset) % len(tests)] for offset in range(2 + index % 2)]}})
        for index in range(SEGMENTS)]


def main() -> int:
    from loyalty.domain.segments import segments_of

    member, program, now = _member_after_three_years()
    item = _item(member, program)
    size = item_size(item)
    facts = {name: item_size({name: item[name]}) for name in ("days", "months", "categories", "attributes", "activated")}
    print(f"member item after {YEARS} years of daily purchases in {CATEGORIES} categories, 20 attributes, 5 offers:"
          f" {size} bytes (target <= {SIZE_TARGET_BYTES}); of which facts:"
          + ", ".join(f" {name} {bytes_}" for name, bytes_ in facts.items())
          + f"; lots {len(member.lots)}, qualifying months {len(member.qualifying)}")

    segments = _segments()
    inside = segments_of(member, segments, now, program.time_zone)
    runs = []
    for _ in range(2_000):
        started = time.perf_counter()
        segments_of(member, segments, now, program.time_zone)
        runs.append((time.perf_counter() - started) * 1000)
    median = statistics.median(runs)
    print(f"segment evaluation, {SEGMENTS} segments for one member: median {median:.3f} ms, p95 "
          f"{statistics.quantiles(runs, n=20)[-1]:.3f} ms (target <= {EVALUATION_TARGET_MS}); in {len(inside)} of them")

    missed = []
    if size > SIZE_TARGET_BYTES:
        missed.append(f"member item {size} bytes > {SIZE_TARGET_BYTES}")
    if median > EVALUATION_TARGET_MS:
        missed.append(f"segment evaluation {median:.3f} ms > {EVALUATION_TARGET_MS} ms")
    return verdict(missed)
