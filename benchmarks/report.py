"""Report benchmark: a 31-day program report over 1,000 and 50,000 members, in one run.

Each population is written in bulk (members, their ledger entries and the report counters
those entries produce, through the same `counter_deltas` the transactions use), so the
tables hold what the live system would. The report must cost the same for both: it reads
counters per day and shard, never members or the ledger.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from benchmarks.environment import use_environment, verdict

POPULATIONS = (1_000, 50_000)
RUNS = 15
TIME_GROWTH_TARGET = 1.5  # 50x the members: the report reads the same items, so its time must not follow
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _populate(store, program, members: int) -> None:
    import boto3

    from loyalty.domain import earning, ledger, membership, stats
    from loyalty.domain.model import Profile, Purchase
    from loyalty.domain.stats import TOTAL
    from loyalty.store import keys
    from loyalty.store.records import entry_to_record, member_to_record
    from loyalty.store.ledger import FIRST_DAY

    counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    days: list[str] = []
    totals: set[str] = set()
    tables = store.tables
    with tables.members.batch_write() as member_batch, tables.entries.batch_write() as entry_batch:
        for index in range(members):
            enrolled_at = NOW - timedelta(days=60, minutes=index)
            change = membership.enroll(f"m{index:020d}", Profile(f"b{index}@example.com", "store"), program, enrolled_at)
            member, entries = change.member, list(change.entries)
            deltas = [stats.counter_deltas(change.entries, time_zone=program.time_zone, enrolled=member,
                                           tier_moves=change.tier_moves)]
            for purchase in range(2):
                earned = earning.earn(member, program, Purchase(f"t{purchase}", 1_500, program.currency),
                                    NOW - timedelta(days=(index + purchase * 17) % 45), request_hash="h")
                stats.note_purchase_days(earned, program.time_zone)
                member = earned.member
                entries += earned.entries
                deltas.append(stats.counter_deltas(earned.entries, time_zone=program.time_zone, tier_moves=earned.tier_moves))
            member_batch.save(member_to_record(member, tables.members, ledger.job_schedule(member, program), store.job_shards))
            for entry in entries:
                entry_batch.save(entry_to_record(entry, tables.entries))
            for delta in deltas:  # what the transactions' counter updates add up to (Store._add_counters)
                for (bucket, member_id), values in delta.items():
                    key = keys.counter_key(bucket, keys.shard_of(member_id, store.stats_shards))
                    if bucket.kind == stats.DAY:
                        days.append(bucket.period)
                    elif bucket.kind == TOTAL:
                        totals.add(key)
                    for name, value in values.items():
                        counters[key][name] += value
    client = boto3.client("dynamodb", region_name="us-east-1")
    for key, values in counters.items():
        item = {"pk": {"S": key}, **{name: {"N": str(value)} for name, value in values.items()}}
        if key in totals:
            item[FIRST_DAY] = {"S": min(days)}
        client.put_item(TableName=tables.counters.Meta.table_name, Item=item)


def _measure(members: int) -> dict:
    import boto3
    from moto import mock_aws

    from loyalty.clock import FixedClock
    from loyalty.core.programs import Programs
    from loyalty.program import load_program
    from loyalty.reports.store import ReportStore
    from loyalty.reports.use_cases import Reports
    from loyalty.settings import ApiSettings
    from loyalty.store.ledger import Store
    from loyalty_local.template import create_tables

    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        settings = ApiSettings.from_environment()
        store = Store.from_settings(settings)
        clock = FixedClock(NOW)
        loyalty = Reports(ReportStore(store), clock, Programs.fixed(load_program(settings.program_file), clock))
        started = time.perf_counter()
        _populate(store, loyalty.program, members)
        load_seconds = time.perf_counter() - started
        sends = []
        store.on_request(lambda operation, params: sends.append(operation))
        times = []
        start, end = (NOW - timedelta(days=31)).date(), (NOW - timedelta(days=1)).date()
        for _ in range(RUNS):
            sends.clear()
            began = time.perf_counter()
            report = loyalty.program_report(start, end)
            times.append(time.perf_counter() - began)
        return {"members": members, "ms": statistics.median(times) * 1000, "requests": len(sends),
                "active": report.active, "load_s": load_seconds}


def main() -> int:
    use_environment()
    rows = [_measure(members) for members in POPULATIONS]
    print(f"Program report over 31 days, moto in-process, median of {RUNS}")
    print(f"{'members':>8} {'report ms':>10} {'DDB requests':>13} {'active in range':>16} {'(load s)':>9}")
    for row in rows:
        print(f"{row['members']:>8} {row['ms']:>10.1f} {row['requests']:>13} {row['active']:>16} {row['load_s']:>9.1f}")
    small, large = rows
    growth = large["ms"] / small["ms"]
    print(f"ratio {large['members'] // small['members']}x members: time {growth:.2f}x, "
          f"requests {large['requests'] / small['requests']:.2f}x")
    missed = []
    if large["requests"] != small["requests"]:
        missed.append(f"report: {small['requests']} DynamoDB requests for {small['members']:,} members but "
                      f"{large['requests']} for {large['members']:,} (target: the same)")
    if growth > TIME_GROWTH_TARGET:
        missed.append(f"report: {growth:.2f}x the time for {large['members'] // small['members']}x the members "
                      f"(target <= {TIME_GROWTH_TARGET}x)")
    return verdict(missed)


if __name__ == "__main__":
    raise SystemExit(main())
