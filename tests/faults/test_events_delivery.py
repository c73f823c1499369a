"""No event lost: PutEvents partial failures, a dead-lettered stream batch replayed, duplicates dropped by event_id."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

from benchmarks.environment import queue_on_bus
from loyalty import events
from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from loyalty.store.faults import attach
from loyalty_local.events import read_events
from loyalty_local.local_platform import FileSink
from ops import replay_events
from tests.conftest import make_loyalty

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))
AT = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)


def _activity(loyalty, members: int = 4) -> None:
    for index in range(members):
        member_id = loyalty.enroll(STAFF, email=f"m{index}@example.com", channel="store").member_id
        for purchase in range(3):
            loyalty.earn(STAFF, member_id, Purchase(f"t-{purchase}", 1000 * (purchase + 1), "EUR"), payload={"p": purchase})
        loyalty.redeem(STAFF, member_id, idempotency_key="k", payload={}, points=20)


def _ledger_stream() -> tuple[str, str, list[dict]]:
    tables, streams = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = tables.describe_table(TableName="LedgerTable")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = [replay_events._as_lambda_delivers(record, arn) for record in streams.get_records(ShardIterator=iterator)["Records"]]
    return arn, shard, records


def _on_failure(arn: str, shard: str, batch: list[dict]) -> dict:
    """What Lambda puts on the OnFailure destination for a stream batch: where it was, not what it held."""
    return {"version": "1.0", "requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": {
        "shardId": shard, "streamArn": arn, "batchSize": len(batch),
        "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"], "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
        "approximateArrivalOfFirstRecord": (AT - timedelta(minutes=1)).isoformat(),
        "approximateArrivalOfLastRecord": (AT + timedelta(minutes=1)).isoformat()}}


def _ids(found: list[events.DomainEvent]) -> list[str]:
    return [event.detail["event_id"] for event in found]


def test_a_dead_lettered_stream_batch_replays_to_exactly_the_missing_events(tables, tmp_path):
    _activity(make_loyalty(AT))
    arn, shard, records = _ledger_stream()
    assert len(records) == 4 * 6  # per member: welcome bonus, consent record, three earns, a redemption
    delivered, lost = records[:9], records[9:]
    sink = tmp_path / "events.jsonl"
    publisher = events.Publisher("local", sink=FileSink(sink))
    publisher.publish(events.from_stream(delivered), lambda line: None)
    message = tmp_path / "onfailure.json"
    message.write_text(json.dumps(_on_failure(arn, shard, lost)))
    clients = {"dynamodb": boto3.client("dynamodb", region_name="us-east-1"),
               "dynamodbstreams": boto3.client("dynamodbstreams", region_name="us-east-1")}
    replay_events.main(["--ledger-table", "LedgerTable", "--bus", "local", "--local-events-file", str(sink),
                        "--message", str(message)], clients=clients)
    published = [json.loads(line)["detail"] for line in sink.read_text().splitlines()]
    replayed = published[len(events.from_stream(delivered)):]
    assert replayed == [event.detail for event in events.from_stream(lost)], "exactly the batch's events, as first derived"
    assert sorted(event["event_id"] for event in published) == sorted(_ids(events.from_stream(records)))


class _Trimmed:
    """A stream that no longer holds the batch (past its 24 hours)."""

    def get_shard_iterator(self, **_):
        raise ClientError({"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}, "GetShardIterator")


def test_past_the_streams_24_hours_the_ledger_gives_the_events_back_with_their_ids(tables, tmp_path):
    _activity(make_loyalty(AT))
    arn, shard, records = _ledger_stream()
    everything = events.from_stream(records)
    sink = tmp_path / "events.jsonl"
    publisher = events.Publisher("local", sink=FileSink(sink))
    publisher.publish(everything[:5], lambda line: None)  # a consumer had these when the batch failed
    found = replay_events.dead_lettered_events(_on_failure(arn, shard, records[5:]), _Trimmed(),
                                               boto3.client("dynamodb", region_name="us-east-1"), "LedgerTable")
    publisher.publish(found.events, lambda line: None)
    assert sorted(_ids(found.events)) == sorted(_ids(everything)), "the window's entries, with the ids the stream gave"
    kept = list(read_events(sink))  # the consumer drops what it had by event_id
    assert sorted(event["detail"]["event_id"] for event in kept) == sorted(_ids(everything))
    assert [event["detail"] for event in kept] == [event.detail for event in everything[:5]] + [
        event.detail for event in found.events if event.detail["event_id"] not in set(_ids(everything[:5]))]


def test_a_window_replay_outside_any_activity_publishes_nothing(tables, tmp_path):
    _activity(make_loyalty(AT), members=1)
    found = replay_events.ledger_events(boto3.client("dynamodb", region_name="us-east-1"), "LedgerTable",
                                        AT + timedelta(seconds=1), AT + timedelta(days=1))
    assert (found.records, found.events) == (0, [])


@pytest.fixture
def bus(tables):
    return queue_on_bus("loyalty-test")


def _batch(count: int) -> list[events.DomainEvent]:
    return [events.DomainEvent("PointsEarned", {"event_id": f"e-{index}", "points": index}) for index in range(count)]


def test_a_partial_put_events_sends_again_only_what_was_refused(inject, bus):
    injector = inject().script("eventbridge.PutEvents", "partial", "partial")
    sleeps = []
    publisher = events.Publisher("loyalty-test", region="us-east-1", sleep=sleeps.append)
    attach(injector, publisher.client())  # boto3's default session was made before the injector was installed
    publisher.publish(_batch(23), lambda line: None)
    assert injector.summary() == {"eventbridge.PutEvents": {"partial": 2}}
    assert len(sleeps) == 2, "two partial failures, two pauses"
    points = sorted(message["detail"]["points"] for message in bus())
    assert points == list(range(23)), "each event delivered exactly once"


def test_a_put_events_refused_past_its_tries_fails_the_record_whose_redelivery_consumers_dedupe(inject, bus):
    injector = inject().script("eventbridge.PutEvents", "partial", "partial", "partial")
    publisher = events.Publisher("loyalty-test", region="us-east-1", sleep=lambda seconds: None)
    attach(injector, publisher.client())
    with pytest.raises(events.EventsNotAccepted, match="InternalFailure"):
        publisher.publish(_batch(10), lambda line: None)
    first = bus()
    assert 0 < len(first) < 10, "what was accepted was delivered"
    publisher.publish(_batch(10), lambda line: None)  # the stream delivers the record again
    assert sum(injector.injected.values()) == 3
    again = first + bus()
    assert len(again) > 10, "at least once: some twice"
    assert sorted({message["detail"]["event_id"] for message in again}) == sorted(f"e-{index}" for index in range(10))


def test_throttled_put_events_and_sqs_sends_are_retried_by_the_sdk(inject, bus):
    from loyalty.jobs.batches import Batch, sqs_sender
    from loyalty.settings import aws_client_config

    injector = inject().script("eventbridge.PutEvents", "throttling").script("sqs.SendMessageBatch", "throttling", "reset")
    publisher = events.Publisher("loyalty-test", region="us-east-1")
    attach(injector, publisher.client())
    publisher.publish(_batch(3), lambda line: None)
    sqs = boto3.client("sqs", region_name="us-east-1", config=aws_client_config())
    attach(injector, sqs)
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs_sender(queue_url, client=sqs)([Batch("expire", AT, ["m-1"])])
    assert injector.summary() == {"eventbridge.PutEvents": {"throttling": 1}, "sqs.SendMessageBatch": {"reset": 1, "throttling": 1}}
    assert len(bus()) == 3
    body = json.loads(sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"])
    assert body["member_ids"] == ["m-1"]
