"""The scheduled jobs end to end on moto: dispatcher, queue, worker, idempotency, and the index they use."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from loyalty import jobs, service
from loyalty.domain import rules
from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.program import get_program
from loyalty.settings import get_settings
from tests.conftest import LambdaContext, load_function
from tests.functional.helpers import ledger_sum

pytestmark = pytest.mark.usefixtures("tables")

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))
EARNED = datetime(2025, 10, 10, 12, 0, tzinfo=timezone.utc)  # lots of 2026-10, expiring after October 31st 2026


def scheduled(moment: datetime) -> dict:
    return {"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1", "resources": [], "detail": {}}


def run(function: str, moment: datetime) -> dict:
    return load_function(function).lambda_handler(scheduled(moment), LambdaContext(function_name=function))


def member_with_points(email: str, amount: int, when: datetime = EARNED) -> str:
    member_id = service.enroll(STAFF, get_program(), when, email=email, channel="store").member_id
    service.earn(STAFF, get_program(), when, member_id, transaction_id="t1", amount_minor=amount, currency="EUR",
                 payload={"a": amount})
    return member_id


def entries(member_id: str, kind: str) -> list[dict]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.query(TableName="LedgerTable", KeyConditionExpression="member_id = :m",
                         ExpressionAttributeValues={":m": {"S": member_id}})["Items"]
    return [item for item in items if item["type"]["S"] == kind]


def test_expiry_expires_due_lots_once_and_keeps_the_ledger_exact():
    due = member_with_points("due@example.com", 10_000)  # 50 welcome + 100 earned, all in lot 2026-10
    spent = member_with_points("spent@example.com", 10_000)
    service.redeem(STAFF, get_program(), EARNED + timedelta(days=1), spent, idempotency_key="k", payload={}, points=120)
    fresh = member_with_points("fresh@example.com", 10_000, datetime(2026, 10, 20, tzinfo=timezone.utc))
    first = run("expire_points", datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc))
    assert first["members"] >= 2
    assert service.store.get_member(due).balance == 0 and service.store.get_member(spent).balance == 0
    assert [int(e["points"]["N"]) for e in entries(spent, "expire")] == [-30], "a partly spent lot expires what remains"
    assert service.store.get_member(fresh).balance == 150
    second = run("expire_points", datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc))
    assert second["members"] == 0, "nothing is due after the first run: the index no longer lists them"
    for member_id in (due, spent, fresh):
        assert len(entries(member_id, "expire")) == (0 if member_id == fresh else 1)
        assert service.store.get_member(member_id).balance == ledger_sum(member_id)
    report = service.program_report(get_program(), datetime(2026, 11, 2, tzinfo=timezone.utc),
                                     datetime(2026, 11, 1).date(), datetime(2026, 11, 1).date())
    assert report.total("points_expired") == 150 + 30


def test_a_member_with_lots_of_several_months_loses_only_the_past_ones():
    member_id = member_with_points("many@example.com", 5_000)  # lot 2026-10: 100
    service.earn(STAFF, get_program(), datetime(2026, 1, 5, tzinfo=timezone.utc), member_id, transaction_id="t2",
                 amount_minor=7_000, currency="EUR", payload={"b": 1})  # lot 2027-01: 70
    run("expire_points", datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc))
    member = service.store.get_member(member_id)
    assert member.lots == {"2027-01": 70} and member.balance == 70 == ledger_sum(member_id)


def test_a_date_can_be_replayed_past_or_future():
    member_id = member_with_points("later@example.com", 10_000, datetime(2026, 11, 20, tzinfo=timezone.utc))  # lot 2027-11
    assert run("expire_points", datetime(2026, 12, 1, tzinfo=timezone.utc))["members"] == 0
    assert service.store.get_member(member_id).balance == 150
    run("expire_points", datetime(2027, 12, 1, 0, 15, tzinfo=timezone.utc))  # a year ahead: the lot is past
    assert service.store.get_member(member_id).balance == 0


def test_replaying_a_past_date_after_a_later_run_changes_nothing():
    member_id = member_with_points("replay@example.com", 5_000)  # lot 2026-10: 100
    service.earn(STAFF, get_program(), datetime(2025, 11, 5, tzinfo=timezone.utc), member_id, transaction_id="t2",
                 amount_minor=7_000, currency="EUR", payload={"b": 1})  # lot 2026-11: 70
    run("expire_points", datetime(2026, 12, 1, 0, 15, tzinfo=timezone.utc))  # a missed day: both lots at once
    assert [int(e["points"]["N"]) for e in entries(member_id, "expire")] == [-170]
    assert run("expire_points", datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc))["members"] == 0
    member = service.store.get_member(member_id)
    assert member.balance == 0 == ledger_sum(member_id) and len(entries(member_id, "expire")) == 1


def test_a_request_that_read_the_member_before_a_job_wrote_it_must_reread():
    member_id = member_with_points("race@example.com", 200_000, datetime(2025, 9, 1, tzinfo=timezone.utc))  # Gold
    before_review = service.store.get_member(member_id)
    run("tier_review", datetime(2026, 11, 1, 1, 30, tzinfo=timezone.utc))  # Gold -> Silver, no ledger entry
    late_earn = rules.earn(before_review, get_program(), key="earn#t9", transaction_id="t9", amount_minor=100,
                           currency="EUR", now=datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc), request_hash="h")
    with pytest.raises(service.store.LostRace):  # else it would write the Gold tier back
        service.store.commit(late_earn, {member_id: before_review.version})
    assert service.store.get_member(member_id).tier == "Silver"


def test_members_are_reminded_once_per_lot():
    member_id = member_with_points("remind@example.com", 10_000, datetime(2025, 11, 15, tzinfo=timezone.utc))  # lot 2026-11
    run("expire_points", datetime(2026, 11, 5, tzinfo=timezone.utc))
    assert service.store.get_member(member_id).reminded_lots == ["2026-11"]
    assert run("expire_points", datetime(2026, 11, 6, tzinfo=timezone.utc))["members"] == 0, "not every day"
    assert run("expire_points", datetime(2026, 12, 1, 0, 15, tzinfo=timezone.utc))["members"] == 1
    assert service.store.get_member(member_id).balance == 0


def test_the_dispatcher_queries_the_index_and_never_scans():
    from loyalty.store.models import MemberModel

    member_with_points("q@example.com", 1_000)
    operations: list[str] = []
    MemberModel._get_connection().connection.client.meta.events.register(
        "provide-client-params.dynamodb.*", lambda params, model, **_: operations.append(f"{model.name}:{params.get('IndexName', '')}")
    )
    dispatched: list = []
    jobs.dispatch(jobs.EXPIRE, datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc), dispatched.extend)
    queries = [op for op in operations if op.startswith("Query")]
    assert queries and set(queries) == {"Query:by_due"} and len(queries) == get_settings().job_shards
    assert not any(op.startswith("Scan") for op in operations)
    assert sum(len(batch.member_ids) for batch in dispatched) == 1


def test_tier_review_downgrades_one_level_keeps_earned_tiers_and_runs_once_a_month():
    gold = member_with_points("gold@example.com", 200_000, datetime(2025, 9, 1, tzinfo=timezone.utc))  # Gold, qualifying in 2025-09
    silver = member_with_points("silver@example.com", 60_000, datetime(2026, 10, 1, tzinfo=timezone.utc))  # Silver, qualifying now
    member_with_points("bronze@example.com", 1_000)
    result = run("tier_review", datetime(2026, 11, 1, 1, 30, tzinfo=timezone.utc))
    assert result["members"] == 2, "only members above the base tier are reviewed"
    assert service.store.get_member(gold).tier == "Silver" and service.store.get_member(silver).tier == "Silver"
    assert run("tier_review", datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc))["members"] == 0
    assert run("tier_review", datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc))["members"] == 2
    assert service.store.get_member(gold).tier == "Bronze"
    report = service.program_report(get_program(), datetime(2026, 12, 2, tzinfo=timezone.utc),
                                     datetime(2026, 12, 1).date(), datetime(2026, 12, 1).date())
    assert report.tiers == {"Bronze": 2, "Silver": 1, "Gold": 0, "Platinum": 0}


def test_through_the_queue_a_crashed_batch_is_retried_without_double_effects(monkeypatch):
    members = [member_with_points(f"q{index}@example.com", 10_000) for index in range(7)]
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    monkeypatch.setattr(jobs, "get_settings", lambda: get_settings().model_copy(update={"job_queue_url": queue_url, "job_batch_size": 3}))
    now = datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc)
    assert run("expire_points", now)["members"] == 7
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 3
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs", "awsRegion": "us-east-1"} for m in messages]}
    worker = load_function("job_worker")
    original, calls = service.expire_member, []

    def crash_on_the_fifth(program, moment, member_id):
        calls.append(member_id)
        if len(calls) == 5:
            raise RuntimeError("worker crashed")
        return original(program, moment, member_id)

    monkeypatch.setattr(service, "expire_member", crash_on_the_fifth)
    first = worker.lambda_handler(event, LambdaContext(function_name="job_worker"))
    assert len(first["batchItemFailures"]) == 1, "only the crashed message goes back to the queue"
    unexpired = [member_id for member_id in members if service.store.get_member(member_id).balance]
    assert unexpired == [calls[4]], "the crashed member does not hold back the rest of its batch"
    monkeypatch.setattr(service, "expire_member", original)
    again = worker.lambda_handler(event, LambdaContext(function_name="job_worker"))  # every message delivered again
    assert again["batchItemFailures"] == []
    for member_id in members:
        assert len(entries(member_id, "expire")) == 1 and service.store.get_member(member_id).balance == 0 == ledger_sum(member_id)
    assert json.loads(messages[0]["Body"])["job"] == "expire"
