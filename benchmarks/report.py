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


def _populate(members: int) -> None:
    from loyalty.domain import rules, stats
    from loyalty.program import get_program
    from loyalty.settings import get_settings
    from loyalty.store.models import CounterModel, EntryModel, MemberModel
    from loyalty.store.records import entry_to_record, member_to_record

    program, shards = get_program(), get_settings().stats_shards
    counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with MemberModel.batch_write() as member_batch, EntryModel.batch_write() as entry_batch:
        for index in range(members):
            enrolled_at = NOW - timedelta(days=60, minutes=index)
            change = rules.enroll(member_id=f"m{index:020d}", email=f"b{index}@example.com", channel="store", now=enrolled_at, program=program)
            member, entries = change.member, list(change.entries)
            deltas = [stats.counter_deltas(change.entries, time_zone="UTC", shards=shards, enrolled=member, tier_moves=change.tier_moves)]
            for purchase in range(2):
                earned = rules.earn(member, program, key=f"earn#t{purchase}", transaction_id=f"t{purchase}", amount_minor=1_500,
                                    currency=program.currency, now=NOW - timedelta(days=(index + purchase * 17) % 45), request_hash="h")
                member = earned.member
                entries += earned.entries
                deltas.append(stats.counter_deltas(earned.entries, time_zone="UTC", shards=shards, tier_moves=earned.tier_moves))
            member_batch.save(member_to_record(member))
            for entry in entries:
                entry_batch.save(entry_to_record(entry))
            for delta in deltas:
                for key, values in delta.items():
                    for name, value in values.items():
                        counters[key][name] += value
    connection = CounterModel._get_connection().connection
    for key, values in counters.items():
        connection.put_item(CounterModel.Meta.table_name, key, attributes={name: {"N": str(v)} for name, v in values.items()})


def _measure(members: int) -> dict:
    import boto3
    from moto import mock_aws

    from loyalty import service
    from loyalty.program import get_program
    from loyalty.store.models import CounterModel, EntryModel, MarkerModel, MemberModel
    from loyalty_local.template import create_tables

    with mock_aws():
        for model in (MemberModel, MarkerModel, EntryModel, CounterModel):
            model._connection = None
        create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        started = time.perf_counter()
        _populate(members)
        load_seconds = time.perf_counter() - started
        sends = []
        CounterModel._get_connection().connection.client.meta.events.register(
            "before-send.dynamodb.*", lambda **_: sends.append(1)
        )
        times = []
        start, end = (NOW - timedelta(days=31)).date(), (NOW - timedelta(days=1)).date()
        for _ in range(RUNS):
            sends.clear()
            began = time.perf_counter()
            report = service.program_report(get_program(), NOW, start, end)
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
