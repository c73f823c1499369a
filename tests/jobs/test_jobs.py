"""The scheduled jobs end to end on moto: dispatcher, queue, worker, idempotency, and the index they use."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from loyalty.jobs import batches as jobs
from loyalty.clock import FixedClock
from loyalty.domain import earning, errors, ledger
from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from loyalty.store.models import bind_members
from loyalty.jobs.store import JobIndex
from loyalty.store.transaction import LostRace
from tests.conftest import PROGRAM, LambdaContext, load_function
from tests.functional.helpers import ledger_sum

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))
EARNED = datetime(2025, 10, 10, 12, 0, tzinfo=timezone.utc)  # lots of 2026-10, expiring after October 31st 2026


def scheduled(moment: datetime) -> dict:
    return {"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1", "resources": [], "detail": {}}


def run(function: str, moment: datetime, clock_file, clock_at: datetime | None = None, **env: str) -> dict:
    """Invoke a job's function with the event of `moment`, its business clock at `clock_at` (default: `moment`)."""
    offset = ((clock_at or moment) - datetime.now(timezone.utc)).total_seconds()
    clock_file.write_text(json.dumps({"offset_seconds": offset}))
    handler = load_function(function, LOCAL_CLOCK_FILE=str(clock_file), **env).lambda_handler
    return handler(scheduled(moment), LambdaContext(function_name=function))


def member_with_points(uc, email: str, amount: int, when: datetime = EARNED) -> str:
    uc.clock.at = when
    member_id = uc.enroll(STAFF, email=email, channel="store").member_id
    uc.earn(STAFF, member_id, Purchase("t1", amount, "EUR"), payload={"a": amount})
    return member_id


def entries(member_id: str, kind: str) -> list[dict]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.query(TableName="LedgerTable", KeyConditionExpression="member_id = :m",
                         ExpressionAttributeValues={":m": {"S": member_id}})["Items"]
    return [item for item in items if item.get("type", {}).get("S") == kind]  # consent records have no type


def test_expiry_expires_due_lots_once_and_keeps_the_ledger_exact(uc, clock_file):
    due = member_with_points(uc, "due@example.com", 10_000)  # 50 welcome + 100 earned, all in lot 2026-10
    spent = member_with_points(uc, "spent@example.com", 10_000)
    uc.clock.at = EARNED + timedelta(days=1)
    uc.redeem(STAFF, spent, idempotency_key="k", payload={}, points=120)
    fresh = member_with_points(uc, "fresh@example.com", 10_000, datetime(2026, 10, 20, tzinfo=timezone.utc))
    first = run("expire_points", datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc), clock_file)
    assert first["members"] >= 2
    assert uc.store.get_member(due).balance == 0 and uc.store.get_member(spent).balance == 0
    assert [int(e["points"]["N"]) for e in entries(spent, "expire")] == [-30], "a partly spent lot expires what remains"
    assert uc.store.get_member(fresh).balance == 150
    second = run("expire_points", datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc), clock_file)
    assert second["members"] == 0, "nothing is due after the first run: the index no longer lists them"
    for member_id in (due, spent, fresh):
        assert len(entries(member_id, "expire")) == (0 if member_id == fresh else 1)
        assert uc.store.get_member(member_id).balance == ledger_sum(member_id)
    uc.clock.at = datetime(2026, 11, 2, tzinfo=timezone.utc)
    report = uc.program_report(
                                     datetime(2026, 11, 1).date(), datetime(2026, 11, 1).date())
    assert report.total("points_expired") == 150 + 30


def test_a_member_with_lots_of_several_months_loses_only_the_past_ones(uc, clock_file):
    member_id = member_with_points(uc, "many@example.com", 5_000)  # lot 2026-10: 100
    uc.clock.at = datetime(2026, 1, 5, tzinfo=timezone.utc)
    uc.earn(STAFF, member_id, Purchase("t2", 7_000, "EUR"), payload={"b": 1})  # lot 2027-01: 70
    run("expire_points", datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc), clock_file)
    member = uc.store.get_member(member_id)
    assert member.lots == {"2027-01": 70} and member.balance == 70 == ledger_sum(member_id)


def test_a_date_can_be_replayed_past_or_once_the_business_clock_is_there_future(uc, clock_file):
    member_id = member_with_points(uc, "later@example.com", 10_000, datetime(2026, 11, 20, tzinfo=timezone.utc))  # lot 2027-11
    assert run("expire_points", datetime(2026, 12, 1, tzinfo=timezone.utc), clock_file)["members"] == 0
    assert uc.store.get_member(member_id).balance == 150
    run("expire_points", datetime(2027, 12, 1, 0, 15, tzinfo=timezone.utc), clock_file)  # a year ahead: the lot is past
    assert uc.store.get_member(member_id).balance == 0


def test_replaying_a_past_date_after_a_later_run_changes_nothing(uc, clock_file):
    member_id = member_with_points(uc, "replay@example.com", 5_000)  # lot 2026-10: 100
    uc.clock.at = datetime(2025, 11, 5, tzinfo=timezone.utc)
    uc.earn(STAFF, member_id, Purchase("t2", 7_000, "EUR"), payload={"b": 1})  # lot 2026-11: 70
    run("expire_points", datetime(2026, 12, 1, 0, 15, tzinfo=timezone.utc), clock_file)  # a missed day: both lots at once
    assert [int(e["points"]["N"]) for e in entries(member_id, "expire")] == [-170]
    assert run("expire_points", datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc), clock_file)["members"] == 0
    member = uc.store.get_member(member_id)
    assert member.balance == 0 == ledger_sum(member_id) and len(entries(member_id, "expire")) == 1


def test_a_request_that_read_the_member_before_a_job_wrote_it_must_reread(uc, clock_file):
    member_id = member_with_points(uc, "race@example.com", 200_000, datetime(2025, 9, 1, tzinfo=timezone.utc))  # Gold
    before_review = uc.store.get_member(member_id)
    run("tier_review", datetime(2026, 11, 1, 1, 30, tzinfo=timezone.utc), clock_file)  # Gold -> Silver, no ledger entry
    late_earn = earning.earn(before_review, PROGRAM, Purchase("t9", 100, "EUR"), datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc),
                           request_hash="h")
    schedules = {member_id: ledger.job_schedule(late_earn.member, PROGRAM)}
    with pytest.raises(LostRace):  # else it would write the Gold tier back
        uc.store.commit(late_earn, {member_id: before_review.version}, schedules, {})
    assert uc.store.get_member(member_id).tier == "Silver"


def test_members_are_reminded_once_per_lot(uc, clock_file):
    member_id = member_with_points(uc, "remind@example.com", 10_000, datetime(2025, 11, 15, tzinfo=timezone.utc))  # lot 2026-11
    run("expire_points", datetime(2026, 11, 5, tzinfo=timezone.utc), clock_file)
    assert uc.store.get_member(member_id).reminded_lots == ["2026-11"]
    assert run("expire_points", datetime(2026, 11, 6, tzinfo=timezone.utc), clock_file)["members"] == 0, "not every day"
    assert run("expire_points", datetime(2026, 12, 1, 0, 15, tzinfo=timezone.utc), clock_file)["members"] == 1
    assert uc.store.get_member(member_id).balance == 0


def test_the_dispatcher_queries_the_index_and_never_scans(uc):
    member_with_points(uc, "q@example.com", 1_000)
    operations: list[str] = []
    index = JobIndex(bind_members("MembersTable", "us-east-1"), job_shards=16)
    index.on_request(lambda operation, params: operations.append(f"{operation}:{params.get('IndexName', '')}"))
    dispatched: list = []
    now = datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc)
    jobs.Dispatcher(index, FixedClock(now), dispatched.extend).dispatch(jobs.EXPIRE, now)
    queries = [op for op in operations if op.startswith("Query")]
    assert queries and set(queries) == {"Query:by_due"} and len(queries) == 16
    assert not any(op.startswith("Scan") for op in operations)
    assert sum(len(batch.member_ids) for batch in dispatched) == 1


def test_tier_review_downgrades_one_level_keeps_earned_tiers_and_runs_once_a_month(uc, clock_file):
    gold = member_with_points(uc, "gold@example.com", 200_000, datetime(2025, 9, 1, tzinfo=timezone.utc))  # Gold, qualifying in 2025-09
    silver = member_with_points(uc, "silver@example.com", 60_000, datetime(2026, 10, 1, tzinfo=timezone.utc))  # Silver, qualifying now
    member_with_points(uc, "bronze@example.com", 1_000)
    result = run("tier_review", datetime(2026, 11, 1, 1, 30, tzinfo=timezone.utc), clock_file)
    assert result["members"] == 2, "only members above the base tier are reviewed"
    assert uc.store.get_member(gold).tier == "Silver" and uc.store.get_member(silver).tier == "Silver"
    assert run("tier_review", datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc), clock_file)["members"] == 0
    assert run("tier_review", datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc), clock_file)["members"] == 2
    assert uc.store.get_member(gold).tier == "Bronze"
    uc.clock.at = datetime(2026, 12, 2, tzinfo=timezone.utc)
    report = uc.program_report(datetime(2026, 12, 1).date(), datetime(2026, 12, 1).date())
    assert report.tiers == {"Bronze": 2, "Silver": 1, "Gold": 0, "Platinum": 0}


def test_through_the_queue_a_crashed_batch_is_retried_without_double_effects(uc, clock_file):
    members = [member_with_points(uc, f"q{index}@example.com", 10_000) for index in range(7)]
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    now = datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc)
    assert run("expire_points", now, clock_file, JOB_QUEUE_URL=queue_url, JOB_BATCH_SIZE="3")["members"] == 7
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    messages = [m for m in received if json.loads(m["Body"])["job"] == "expire"]
    assert len(messages) == 3 and [json.loads(m["Body"])["job"] for m in received].count("rollup") == 1  # and the roll-up
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs", "awsRegion": "us-east-1"} for m in messages]}
    # One member's item cannot be read (a corrupt lot): the worker fails on it part-way through its batch.
    crashing = json.loads(messages[1]["Body"])["member_ids"][1]
    client = boto3.client("dynamodb", region_name="us-east-1")
    key = {"pk": {"S": f"M#{crashing}"}}
    lots = client.get_item(TableName="MembersTable", Key=key)["Item"]["lots"]
    client.update_item(TableName="MembersTable", Key=key, UpdateExpression="SET lots = :bad",
                       ExpressionAttributeValues={":bad": {"M": {"2026-10": {"S": "not a number"}}}})
    worker = load_function("job_worker", LOCAL_CLOCK_FILE=str(clock_file))
    first = worker.lambda_handler(event, LambdaContext(function_name="job_worker"))
    assert [failure["itemIdentifier"] for failure in first["batchItemFailures"]] == [messages[1]["MessageId"]], (
        "only the crashed message goes back to the queue")
    client.update_item(TableName="MembersTable", Key=key, UpdateExpression="SET lots = :lots",
                       ExpressionAttributeValues={":lots": lots})
    unexpired = [member_id for member_id in members if uc.store.get_member(member_id).balance]
    assert unexpired == [crashing], "the crashed member does not hold back the rest of its batch"
    again = worker.lambda_handler(event, LambdaContext(function_name="job_worker"))  # every message delivered again
    assert again["batchItemFailures"] == []
    for member_id in members:
        assert len(entries(member_id, "expire")) == 1 and uc.store.get_member(member_id).balance == 0 == ledger_sum(member_id)
    assert json.loads(messages[0]["Body"])["job"] == "expire"


def test_a_job_time_ahead_of_the_clock_is_refused_and_writes_nothing(uc, clock_file):
    from tests.functional.helpers import table_items

    member_with_points(uc, "future@example.com", 10_000)
    before = table_items()
    clock = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
    for function in ("expire_points", "tier_review"):
        with pytest.raises(errors.TimeAhead):
            run(function, datetime(2027, 12, 1, tzinfo=timezone.utc), clock_file, clock_at=clock)
        with pytest.raises(errors.TimeAhead):
            run(function, clock + timedelta(minutes=6), clock_file, clock_at=clock)
    assert table_items() == before
    uc.clock.at = clock
    with pytest.raises(errors.TimeAhead):  # the worker refuses too (a forged or delayed message)
        uc.expire_member(datetime(2027, 12, 1, tzinfo=timezone.utc), "m1")
    assert run("expire_points", clock + timedelta(minutes=4), clock_file, clock_at=clock)["members"] == 1, "within the skew"


def test_no_entry_is_dated_ahead_of_the_clock_and_a_later_purchase_keeps_its_own_time(uc, clock_file):
    """The README's old walk-through: replay the expiry a bit ahead, then buy today."""
    member_id = member_with_points(uc, "dates@example.com", 10_000)  # lot 2026-10
    clock = datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc)
    run("expire_points", clock + timedelta(minutes=4), clock_file, clock_at=clock)  # within the skew: accepted
    expire = entries(member_id, "expire")[0]
    assert datetime.fromisoformat(expire["created_at"]["S"]) <= clock + timedelta(seconds=5)
    uc.clock.at = clock + timedelta(seconds=1)  # a purchase just after, before the job's time
    uc.earn(STAFF, member_id, Purchase("t2", 1_000, "EUR"), payload={"a": 2})
    earn = [e for e in entries(member_id, "earn") if e["transaction_id"]["S"] == "t2"][0]
    assert datetime.fromisoformat(earn["created_at"]["S"]) == clock + timedelta(seconds=1), "no time borrowed"
    assert int(earn["seq"]["N"]) > int(expire["seq"]["N"]), "the sequence orders them"
