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
from loyalty_local.template import LOCAL_REGION, create_tables, functions
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
