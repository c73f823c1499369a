"""Domain events from moto's real stream records, to the local sink and to an EventBridge bus."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest

from benchmarks.environment import queue_on_bus
from loyalty import events
from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from tests.conftest import PROGRAM, LambdaContext, load_function
from tests.jobs.test_jobs import member_with_points, run

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))


def stream_records(table: str) -> list[dict]:
    tables = boto3.client("dynamodb", region_name="us-east-1")
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = tables.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    for record in records:
        record["dynamodb"].pop("ApproximateCreationDateTime", None)
    return records


def test_every_domain_event_comes_from_the_streams(uc, clock_file, tmp_path):
    member_id = member_with_points(uc, "ev@example.com", 60_000, datetime(2025, 11, 10, tzinfo=timezone.utc))  # Silver, lot 2026-11
    uc.clock.at = datetime(2025, 11, 11, tzinfo=timezone.utc)
    uc.redeem(STAFF, member_id, idempotency_key="k", payload={}, points=40)
    run("expire_points", datetime(2026, 11, 2, tzinfo=timezone.utc), clock_file)  # reminder for the lot of 2026-11
    run("expire_points", datetime(2026, 12, 1, 0, 15, tzinfo=timezone.utc), clock_file)  # ... which then expires
    run("tier_review", datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc), clock_file)  # qualifying points out of the window

    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    for table in ("MembersTable", "LedgerTable"):
        publisher.lambda_handler({"Records": stream_records(table)}, LambdaContext(function_name="publish_events"))
    published = [json.loads(line) for line in sink.read_text().splitlines()]
    by_type: dict[str, list[dict]] = {}
    for event in published:
        by_type.setdefault(event["detail-type"], []).append(event["detail"])
    assert set(by_type) == {"MemberEnrolled", "PointsEarned", "PointsRedeemed", "PointsExpiringSoon", "PointsExpired", "TierChanged"}
    assert by_type["MemberEnrolled"][0]["member_id"] == member_id
    assert "ev@example.com" not in json.dumps(published), "events name the member by id only (no personal data)"
    assert by_type["PointsEarned"][0]["points"] == 600 and by_type["PointsRedeemed"][0]["points"] == 40
    assert [(e["points"], e["expires_at"]) for e in by_type["PointsExpiringSoon"]] == [(610, "2026-11-30T23:59:59Z")]
    assert by_type["PointsExpired"][0]["points"] == 610
    assert [(e["from"], e["to"], e["reason"]) for e in by_type["TierChanged"]] == [
        ("Bronze", "Silver", "points_earned"), ("Silver", "Bronze", "tier_review")]
    assert by_type["PointsEarned"][0]["at"] == "2025-11-10T00:00:00Z", "times as the API writes them"
    assert by_type["PointsEarned"][0]["expires_at"] == "2026-11-30T23:59:59Z"
    assert (by_type["PointsEarned"][0]["base_points"], by_type["PointsEarned"][0]["breakdown"]) == (
        600, [{"source": "base", "campaign_id": None, "points": 600, "program_version": 1}])
    assert len({e["detail"]["event_id"] for e in published}) == len(published), "consumers deduplicate by event_id"


def test_events_go_to_the_eventbridge_bus(tables):
    """Every event reaches the bus: a rule on it forwards them to a queue, where all 23 arrive."""
    received_since = queue_on_bus("loyalty-test")
    batch = [events.DomainEvent("PointsEarned", {"event_id": str(index), "points": index}) for index in range(23)]
    events.Publisher("loyalty-test", region="us-east-1").publish(batch, log=lambda line: None)  # three PutEvents calls of at most ten
    received = received_since()
    assert sorted(message["detail"]["points"] for message in received) == list(range(23))
    assert {message["detail-type"] for message in received} == {"PointsEarned"}


def test_a_refused_event_fails_the_batch(tables):
    class Refusing:
        def put_events(self, Entries):  # noqa: N803 - boto3's name
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}] * len(Entries)}

    with pytest.raises(events.EventsNotAccepted):
        events.Publisher("loyalty-test", client=Refusing()).publish([events.DomainEvent("PointsEarned", {})], log=print)


def test_a_record_that_cannot_be_published_is_reported_alone(uc, tmp_path):
    member_with_points(uc, "partial@example.com", 10_000)
    records = stream_records("LedgerTable")
    broken = json.loads(json.dumps(records[0]))
    broken["dynamodb"]["NewImage"].pop("type")  # a ledger image this publisher cannot read
    broken["dynamodb"]["SequenceNumber"] = "999"
    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    reply = publisher.lambda_handler({"Records": [*records, broken]}, LambdaContext(function_name="publish_events"))
    assert reply == {"batchItemFailures": [{"itemIdentifier": "999"}]}
    published = [json.loads(line)["detail-type"] for line in sink.read_text().splitlines()]
    assert published.count("PointsEarned") == 1, "the records before it were published"
    with pytest.raises(Exception, match="All records failed"):
        publisher.lambda_handler({"Records": [broken]}, LambdaContext(function_name="publish_events"))


def test_back_office_changes_are_published_without_personal_data(uc, tmp_path):
    admin = Caller(sub="admin-1", scopes=frozenset({"loyalty/admin"}))
    member_id = member_with_points(uc, "office@example.com", 10_000)
    uc.adjust(admin, member_id, idempotency_key="goodwill-1", points=25, reason="goodwill: late delivery", payload={"p": 25})
    uc.block(admin, member_id, "card fraud reported by Ann Smith")
    uc.block(admin, member_id, "again")  # already blocked: nothing written, nothing published
    uc.unblock(admin, member_id)

    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    for table in ("MembersTable", "LedgerTable"):
        publisher.lambda_handler({"Records": stream_records(table)}, LambdaContext(function_name="publish_events"))
    published = [json.loads(line) for line in sink.read_text().splitlines()]
    office = [(event["detail-type"], event["detail"]) for event in published
              if event["detail-type"] in ("PointsAdjusted", "MemberBlocked", "MemberUnblocked")]
    assert [kind for kind, _ in office] == ["MemberBlocked", "MemberUnblocked", "PointsAdjusted"]  # members' stream first
    blocked, unblocked, adjusted = (detail for _, detail in office)
    assert set(blocked) == set(unblocked) == {"event_id", "member_id", "status", "at"}, "no reason, e-mail or name"
    assert (blocked["status"], unblocked["status"]) == ("blocked", "active")
    assert adjusted["points"] == 25 and adjusted["balance"] == 175 and adjusted["reason"] == "goodwill: late delivery"
    assert "email" not in adjusted and adjusted["member_id"] == member_id


def test_a_return_and_an_erasure_are_published_with_ids_a_replay_from_the_ledger_repeats(uc, tmp_path):
    """A return announces the points it took back and the refund; an erasure the balance it forfeits (pending
    included), with no personal data; both with the ids a replay from the ledger derives again."""
    admin = Caller(sub="admin-1", scopes=frozenset({"loyalty/admin"}))
    member_id = member_with_points(uc, "ret@example.com", 10_000)  # 50 welcome + 100 earned
    earned = uc.store.get_member(member_id).balance
    uc.return_purchase(STAFF, member_id, transaction_id="t1", return_id="r-1", amount_minor=2_500, payload={"r": 1})
    uc.erase(admin, member_id)

    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    publisher.lambda_handler({"Records": stream_records("LedgerTable")}, LambdaContext(function_name="publish_events"))
    published = [json.loads(line) for line in sink.read_text().splitlines()]
    assert "ret@example.com" not in json.dumps(published)
    by_type = {event["detail-type"]: event["detail"] for event in published}
    returned, forfeited, bought = by_type["PurchaseReturned"], by_type["PointsForfeited"], by_type["PointsEarned"]
    taken_back = 100 * 2_500 // 10_000  # the refunded share of the purchase's points
    assert {key: returned[key] for key in ("member_id", "points", "amount_minor", "transaction_id", "return_id",
                                           "points_unrecovered", "balance")} == {
        "member_id": member_id, "points": taken_back, "amount_minor": 2_500, "transaction_id": "t1",
        "return_id": "r-1", "points_unrecovered": 0, "balance": earned - taken_back}
    assert returned["program_version"] == bought["program_version"] is not None
    assert (forfeited["points"], forfeited["balance"], forfeited["reason"]) == (earned - taken_back, 0, "erasure")
    assert set(forfeited) == {"event_id", "member_id", "entry_id", "points", "balance", "reason", "at"}
    assert [line["program_version"] for line in bought["breakdown"]] == [bought["program_version"]]

    ledger = boto3.client("dynamodb", region_name="us-east-1").scan(TableName="LedgerTable")["Items"]
    replayed = {event.detail_type: event.detail["event_id"] for item in ledger for event in events.from_ledger_item(item)}
    assert {kind: replayed[kind] for kind in by_type} == {kind: detail["event_id"] for kind, detail in by_type.items()}


def test_an_earn_s_breakdown_lines_carry_the_program_version_that_gave_them():
    """A line stores its version only where it is not the entry's (a tier added since): the event names every
    line's version either way, and null for an entry written before versions."""
    def earn_item(**extra) -> dict:
        return {"member_id": {"S": "m1"}, "entry_key": {"S": "earn#t1"}, "created_seq": {"S": "0000000001"},
                "entry_id": {"S": "e1"}, "type": {"S": "earn"}, "points": {"N": "130"}, "balance_after": {"N": "130"},
                "created_at": {"S": "2026-12-01T10:00:00.000000+0000"}, "transaction_id": {"S": "t1"}, **extra}

    lines = {"L": [{"M": {"source": {"S": "base"}, "points": {"N": "100"}, "campaign_id": {"NULL": True}}},
                   {"M": {"source": {"S": "tier"}, "points": {"N": "30"}, "campaign_id": {"NULL": True},
                          "program_version": {"N": "2"}}}]}
    (event,) = events.from_ledger_item(earn_item(breakdown=lines, program_version={"N": "3"}))
    assert [(line["source"], line["program_version"]) for line in event.detail["breakdown"]] == [("base", 3), ("tier", 2)]
    assert event.detail["program_version"] == 3
    (older,) = events.from_ledger_item(earn_item(breakdown={"L": lines["L"][:1]}))
    assert older.detail["breakdown"][0]["program_version"] is None and older.detail["program_version"] is None


def test_a_referral_bonus_is_published_for_both_members_once_with_the_ids_a_replay_repeats(uc, tmp_path):
    """The referred member's first purchase credits the referral bonus to it and to its referrer: one
    ReferralBonusCredited each, no personal data; the second purchase credits none."""
    referrer = uc.enroll(STAFF, email="ref@example.com", channel="store")
    referred = uc.enroll(STAFF, email="new@example.com", channel="store", referral_code=referrer.referral_code)
    uc.earn(STAFF, referred.member_id, Purchase("t1", 1_000, "EUR"), payload={"t": 1})
    uc.earn(STAFF, referred.member_id, Purchase("t2", 1_000, "EUR"), payload={"t": 2})

    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    publisher.lambda_handler({"Records": stream_records("LedgerTable")}, LambdaContext(function_name="publish_events"))
    published = [json.loads(line) for line in sink.read_text().splitlines()]
    bonuses = {event["detail"]["member_id"]: event["detail"] for event in published
               if event["detail-type"] == "ReferralBonusCredited"}
    referral = PROGRAM.bonuses.referral
    assert {member: detail["points"] for member, detail in bonuses.items()} == {
        referrer.member_id: referral, referred.member_id: referral}
    assert len([e for e in published if e["detail-type"] == "ReferralBonusCredited"]) == 2
    welcome = PROGRAM.bonuses.welcome
    assert bonuses[referrer.member_id]["balance"] == welcome + referral
    assert "ref@example.com" not in json.dumps(published) and "new@example.com" not in json.dumps(published)

    ledger = boto3.client("dynamodb", region_name="us-east-1").scan(TableName="LedgerTable")["Items"]
    replayed = {event.detail["event_id"] for item in ledger for event in events.from_ledger_item(item)
                if event.detail_type == "ReferralBonusCredited"}
    assert replayed == {detail["event_id"] for detail in bonuses.values()}
