"""Scheduled-job benchmark: the cost follows the members changed, not the table size.

Populations of 2,000 and 20,000 members, each with the same 200 due (a lot past its expiry for
the expiry job; a tier above the base, not reviewed this month, for the review; a birthday today for
the birthday bonus), the rest with nothing due (their birthdays on the other days of the year). A second
population, on a program holding purchase points 14 days, has 200 members whose pending points became
available an hour ago (and nothing else due): the daily job's release row. Each run goes through the real dispatcher and worker code (batches worked in
process, as the local runtime does), on moto in-process; DynamoDB requests are counted with the
request hooks of the job index and the worker's store (`on_request`).

moto deep-copies every table a TransactWriteItems touches, to roll back if it fails: a cost that
grows with the table, which DynamoDB does not have. Nothing here runs concurrently, so no
transaction can fail (the run checks it), and the benchmark skips that snapshot to time what
DynamoDB would.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

from benchmarks.environment import use_environment, verdict

POPULATIONS = (2_000, 20_000)
DUE = 200
NOW = datetime(2026, 12, 1, 0, 15, tzinfo=timezone.utc)
# For the projection: DynamoDB's typical latency from Lambda, and the worker concurrency in template.yaml.
DYNAMODB_MS, WORKER_CONCURRENCY, PROJECTED_MEMBERS, PROJECTED_DUE_SHARE = 6.0, 50, 10_000_000, 0.10
DISPATCHER_TIMEOUT_S = 300  # ExpirePointsFunction's Timeout in template.yaml


def _populate(store, program, members: int, pending: bool = False) -> None:
    from loyalty.domain import ledger
    from loyalty.domain.model import Member, pending_key
    from loyalty.store.records import member_to_record

    model = store.tables.members
    with model.batch_write() as batch:
        for index in range(members):
            due = index < DUE
            released = {pending_key(NOW - timedelta(hours=1)): 100} if due and pending else {}
            member = Member(
                member_id=f"m{index:020d}", email=f"b{index}@example.com", enrolled_at=NOW - timedelta(days=400),
                channel="store", referral_code=f"R{index:07d}", tier="Gold" if due and not pending else "Bronze",
                balance=100, lots={"2026-11" if due and not pending else "2027-10": 100}, points_earned=100,
                qualifying={"2026-11": 200} if due and not pending else {}, version=1,
                pending=released, pending_qualifying=dict(released),
                # today (1 December) for the due; 1 January to 30 November for the others
                birthday=date(1990, 12, 1) if due else date(1990, 1, 1) + timedelta(days=index % 334),
            )
            batch.save(member_to_record(member, model, ledger.job_schedule(member, program), store.job_shards))


class _TableSnapshotSkipped:
    """moto's `copy` module, except that whole tables are not deep-copied."""

    def __init__(self, real_copy) -> None:
        self.real_copy = real_copy

    def deepcopy(self, value, *args, **kwargs):
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else self.real_copy.deepcopy(value, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real_copy, name)


def _run(members: int, pending: bool = False) -> dict:
    import copy

    import boto3
    import moto.dynamodb.models as moto_dynamodb
    from moto import mock_aws

    from loyalty.jobs import batches as jobs
    from loyalty.clock import FixedClock
    from loyalty.core.programs import Programs
    from loyalty.program import load_program
    from loyalty.jobs.use_cases import ScheduledJobs
    from loyalty.settings import ApiSettings, DispatcherSettings
    from loyalty.jobs.store import JobIndex
    from loyalty.store.ledger import Store
    from loyalty.store.transaction import LostRace
    from loyalty_local.template import create_tables

    lost_races: list[int] = []

    class CountingStore(Store):
        """Tells whether any transaction failed (then the skipped snapshot would have mattered)."""

        def commit(self, *args, **kwargs):
            try:
                return super().commit(*args, **kwargs)
            except LostRace:
                lost_races.append(1)
                raise

    moto_dynamodb.copy = _TableSnapshotSkipped(copy)
    results = {}
    try:
        with mock_aws():
            create_tables(boto3.client("dynamodb", region_name="us-east-1"))
            settings = ApiSettings.from_environment()
            store = CountingStore.from_settings(settings)
            clock = FixedClock(NOW)
            program = load_program(settings.program_file)
            if pending:
                program = program.model_copy(update={"earn": program.earn.model_copy(update={"pending_days": 14})})
            loyalty = ScheduledJobs(store, clock, Programs.fixed(program, clock))
            _populate(store, loyalty.program, members, pending)
            index = JobIndex.from_settings(DispatcherSettings.from_environment())
            dispatcher = jobs.Dispatcher(index, clock, jobs.Worker(loyalty).work_all)
            sends: list[str] = []
            for hooked in (index, store):
                hooked.on_request(lambda operation, params: sends.append(operation))
            for job in (jobs.EXPIRE,) if pending else (jobs.EXPIRE, jobs.REVIEW, jobs.BIRTHDAY):
                # The index queries alone first (read-only: the dispatch then finds the same members), to see
                # where the time goes: moto answers an index Query by reading every item of the index.
                began = time.perf_counter()
                listed = sum(1 for _ in dispatcher.due_members(job, NOW))
                query_seconds = time.perf_counter() - began
                sends.clear()
                started = time.perf_counter()
                dispatched = dispatcher.dispatch(job, NOW)
                assert dispatched == listed, (job, dispatched, listed)
                results["release" if pending else job] = {"seconds": time.perf_counter() - started, "requests": len(sends), "members": dispatched,
                                "queries": sends.count("Query"), "query_seconds": query_seconds}
                if pending:  # every due member's points were released, by this run
                    assert all(not member.pending for member in map(store.get_member, (f"m{i:020d}" for i in range(DUE))))
    finally:
        moto_dynamodb.copy = copy
    if lost_races:
        raise RuntimeError("a transaction failed: the skipped snapshot would have been needed, so no figure is valid")
    return results


def main() -> int:
    use_environment()
    runs = {members: {**_run(members), **_run(members, pending=True)} for members in POPULATIONS}
    small, large = (runs[members] for members in POPULATIONS)
    print(f"Scheduled jobs over {POPULATIONS[0]:,} and {POPULATIONS[1]:,} members, {DUE} due in each (moto in-process)")
    print(f"{'job':<8} {'members':>8} {'changed':>8} {'seconds':>8} {'(queries s)':>12} {'DDB requests':>13} {'per changed':>12}")
    for members in POPULATIONS:
        for job, row in runs[members].items():
            print(f"{job:<8} {members:>8} {row['members']:>8} {row['seconds']:>8.2f} {row['query_seconds']:>12.2f} "
                  f"{row['requests']:>13} {row['requests'] / max(row['members'], 1):>12.2f}")
    for job in small:
        def apart_from_queries(row: dict) -> float:
            return row["seconds"] - row["query_seconds"]

        # moto answers an index Query by reading every item of the index; DynamoDB reads only the matching range.
        print(f"{job}: 10x the members -> time {large[job]['seconds'] / small[job]['seconds']:.2f}x "
              f"({apart_from_queries(large[job]) / apart_from_queries(small[job]):.2f}x apart from moto's index queries), "
              f"requests {large[job]['requests'] / small[job]['requests']:.2f}x")
    due = int(PROJECTED_MEMBERS * PROJECTED_DUE_SHARE)
    per_member = (large["expire"]["requests"] - large["expire"]["queries"]) / DUE
    worker_seconds = due * per_member * DYNAMODB_MS / 1000 / WORKER_CONCURRENCY
    # The daily dispatcher queues the expiry's due and the day's birthdays (about 1 member in 365).
    daily = due + PROJECTED_MEMBERS // 365
    index_pages = daily * 60 / 1_000_000  # KEYS_ONLY index items are about 60 bytes; a Query page holds 1 MB
    dispatcher_seconds = (index_pages + daily / 50 / 10) * DYNAMODB_MS * 2 / 1000  # pages, then SQS batches of 10 messages
    print(f"Projection for {PROJECTED_MEMBERS:,} members with {PROJECTED_DUE_SHARE:.0%} due ({due:,}): "
          f"{per_member:.1f} DynamoDB requests per changed member; at {DYNAMODB_MS:.0f} ms a request and "
          f"{WORKER_CONCURRENCY} concurrent workers about {worker_seconds / 60:.1f} min of work, the dispatcher "
          f"about {dispatcher_seconds:.0f} s (its timeout: {DISPATCHER_TIMEOUT_S} s)")
    missed = [f"{job}: {small[job]['requests']} DynamoDB requests with {POPULATIONS[0]:,} members but "
              f"{large[job]['requests']} with {POPULATIONS[1]:,}, for the same {DUE} due (target: the same)"
              for job in small if large[job]["requests"] != small[job]["requests"]]
    if dispatcher_seconds > DISPATCHER_TIMEOUT_S / 2:
        missed.append(f"projected dispatcher time {dispatcher_seconds:.0f} s (target: half its {DISPATCHER_TIMEOUT_S} s timeout)")
    return verdict(missed)


if __name__ == "__main__":
    raise SystemExit(main())
