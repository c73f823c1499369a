"""The local stream poller against a moto server: table changes reach the template's stream consumer as Lambda passes them."""

from __future__ import annotations

import json
import queue
import threading
from datetime import datetime, timezone

import boto3
import pytest

from loyalty import events
from loyalty.domain.model import Member
from loyalty.domain.ledger import job_schedule
from loyalty.store.models import bind_members
from loyalty.store.records import member_to_record
from loyalty_local import events as local_events
from loyalty_local.streams import StreamPoller, start_stream_poller
from loyalty_local.template import LOCAL_ACCOUNT, LOCAL_REGION, create_tables, functions
from tests.conftest import PROGRAM


@pytest.fixture
def endpoint(monkeypatch):
    """A moto server on a free port, emptied before and after (it shares moto's in-memory state with mock_aws)."""
    import urllib.request

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")  # any credentials: the clients sign their requests

    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"

    def reset() -> None:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=5).close()

    reset()
    create_tables(boto3.client("dynamodb", endpoint_url=url, region_name=LOCAL_REGION))
    yield url
    reset()
    server.shutdown()


def enroll_directly(url: str, member_id: str) -> None:
    member = Member(member_id=member_id, email=f"{member_id}@example.com", enrolled_at=datetime(2026, 11, 2, tzinfo=timezone.utc),
                    channel="app", tier="Bronze", referral_code="ABCD2345", balance=50, lots={"2027-11": 50})
    item = member_to_record(member, bind_members("MembersTable"), job_schedule(member, PROGRAM), job_shards=16).serialize()
    boto3.client("dynamodb", endpoint_url=url, region_name=LOCAL_REGION).put_item(TableName="MembersTable", Item=item)


def test_records_are_offered_again_until_delivered(endpoint):
    poller = StreamPoller(endpoint, functions(), deliver=lambda function, event: None, log=lambda line: None)
    enroll_directly(endpoint, "m-stream-1")
    failures = []

    def failing(function: str, event: dict) -> None:
        failures.append(function)
        raise RuntimeError("the function failed")

    poller.deliver = failing
    assert poller.poll_once() == 0 and failures == ["PublishEventsFunction"]
    delivered: list[tuple[str, dict]] = []
    poller.deliver = lambda function, event: delivered.append((function, event))
    assert poller.poll_once() == 1, "the failed batch comes again"
    assert poller.poll_once() == 0, "and only once delivered"
    function, event = delivered[0]
    record = event["Records"][0]
    assert (function, record["eventName"], record["eventSource"]) == ("PublishEventsFunction", "INSERT", "aws:dynamodb")
    assert record["eventSourceARN"].startswith("arn:aws:dynamodb:") and "/stream/" in record["eventSourceARN"]
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int), "epoch seconds, as Lambda passes them"
    json.dumps(event)  # what the local runtime sends to a function process must be plain JSON
    assert [e.detail_type for e in events.from_stream(event["Records"])] == ["MemberEnrolled"]


def test_the_started_poller_delivers_on_its_own_and_stops(endpoint):
    delivered: queue.Queue = queue.Queue()
    stop = start_stream_poller(endpoint, lambda function, event: delivered.put((function, event)), log=lambda line: None)
    try:
        enroll_directly(endpoint, "m-stream-2")
        function, event = delivered.get(timeout=10)
    finally:
        stop()
    assert function == "PublishEventsFunction"
    assert event["Records"][0]["dynamodb"]["Keys"] == {"pk": {"S": "M#m-stream-2"}}


def test_local_events_are_listed_by_type_and_member(tmp_path, capsys):
    sink = tmp_path / "events.jsonl"
    lines = [{"time": "t", "source": "loyalty", "detail-type": kind, "detail": {"member_id": member}}
             for kind, member in (("PointsEarned", "a"), ("TierChanged", "a"), ("PointsEarned", "b"))]
    sink.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [e["detail"]["member_id"] for e in local_events.read_events(sink, "PointsEarned")] == ["a", "b"]
    assert [e["detail-type"] for e in local_events.read_events(sink, member_id="a")] == ["PointsEarned", "TierChanged"]
    local_events.main(["--file", str(sink), "--type", "TierChanged"])
    assert capsys.readouterr().out.count("TierChanged") == 1


def _publisher_batches(poller: StreamPoller, answer) -> list[list[str]]:
    """The sequence numbers of each batch the publisher is given, answering each with `answer(batch)`."""
    seen: list[list[str]] = []

    def deliver(function: str, event: dict):
        assert function == "PublishEventsFunction"
        numbers = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
        seen.append(numbers)
        return answer(numbers)

    poller.deliver = deliver
    return seen


def test_records_from_the_first_reported_failure_on_are_delivered_again_and_those_before_are_done(endpoint):
    poller = StreamPoller(endpoint, functions(), deliver=lambda function, event: None, log=lambda line: None)
    for n in range(3):
        enroll_directly(endpoint, f"m-partial-{n}")
    answers = iter([lambda numbers: {"batchItemFailures": [{"itemIdentifier": numbers[1]}]},
                    lambda numbers: {"batchItemFailures": []}])
    seen = _publisher_batches(poller, lambda numbers: next(answers)(numbers))
    assert poller.poll_once() == 1, "the record before the failed one is done"
    assert poller.poll_once() == 2
    assert poller.poll_once() == 0
    first, again = seen
    assert len(first) == 3 and again == first[1:], "the failed record and every one after it, once more"


def test_a_batch_failing_past_its_retries_goes_to_the_on_failure_queue_and_the_stream_moves_on(endpoint):
    from ops.replay_events import batch_info

    source = next(s for s in functions()["PublishEventsFunction"].streams if s.table == "MembersTable")
    given_up: list[tuple[str, dict]] = []
    poller = StreamPoller(endpoint, functions(), deliver=lambda function, event: None, log=lambda line: None,
                          give_up=lambda queue, message: given_up.append((queue, message)))
    enroll_directly(endpoint, "m-poison")

    def failing(numbers):
        raise RuntimeError("the function failed")

    seen = _publisher_batches(poller, failing)
    for _ in range(source.max_retry_attempts):
        assert poller.poll_once() == 0
    assert given_up == [], "retried as often as the template allows"
    assert poller.poll_once() == 0
    assert len(seen) == source.max_retry_attempts + 1 and all(batch == seen[0] for batch in seen)
    (queue, message), = given_up
    assert queue == source.on_failure == "EventsDeadLetterQueue"
    info = batch_info(message)  # what ops/replay_events.py reads from that queue
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (seen[0][0], seen[0][0], 1)
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"

    delivered = _publisher_batches(poller, lambda numbers: None)
    enroll_directly(endpoint, "m-after")
    assert poller.poll_once() == 1 and len(delivered) == 1 and delivered[0] != seen[0]


def test_records_matching_none_of_the_filters_are_never_delivered(endpoint):
    source = next(s for s in functions()["PublishEventsFunction"].streams if s.table == "CatalogTable")
    assert source.filters, "the template filters the catalog's stream"
    poller = StreamPoller(endpoint, functions(), deliver=lambda function, event: None, log=lambda line: None)
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=LOCAL_REGION)
    got: list[str] = []

    def deliver(function: str, event: dict):
        got.extend(record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"])

    poller.deliver = deliver
    for pk in ("REWARD#coffee", "CAMPAIGN", "PROGRAM", "STOCK#coffee"):
        client.put_item(TableName="CatalogTable", Item={"pk": {"S": pk}, "sk": {"S": "x"}})
    poller.poll_once()
    assert got == ["CAMPAIGN", "PROGRAM"]
    from moto.dynamodb.models import dynamodb_backends  # the server runs in this process

    shard = dynamodb_backends[LOCAL_ACCOUNT][LOCAL_REGION].tables["CatalogTable"].stream_shard
    assert len(shard.items) == 0, "the records passed over leave the stream too"
