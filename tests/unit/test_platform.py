"""What the platform provides: AWS Lambda's by default, the local runtime's where it installs its own."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from loyalty.clock import SystemClock
from loyalty.core.platform import Platform
from loyalty.events import DomainEvent
from loyalty_local.local_platform import FileSink, LocalPlatform, OffsetFileClock

LOCAL_WORKER = {"JOB_QUEUE_URL": "local", "MEMBERS_TABLE": "m", "LEDGER_TABLE": "l", "STATS_TABLE": "s"}


def test_aws_lambdas_platform_gives_the_system_clock_and_leaves_the_queue_and_the_bus_to_the_settings():
    aws = Platform()
    assert isinstance(aws.clock(), SystemClock)
    assert aws.job_sender(LOCAL_WORKER) is None and aws.event_sink({"EVENT_BUS_NAME": "local"}) is None


def test_the_local_platform_takes_over_only_what_the_local_runtime_set(tmp_path):
    local = LocalPlatform()
    assert isinstance(local.clock({}), SystemClock)
    assert local.job_sender({**LOCAL_WORKER, "JOB_QUEUE_URL": "https://sqs.example/q"}) is None
    assert local.event_sink({"EVENT_BUS_NAME": "loyalty-prod"}) is None
    assert callable(local.job_sender(LOCAL_WORKER)), "the batches are worked in the dispatcher's process"
    sink = local.event_sink({"EVENT_BUS_NAME": "local", "LOCAL_EVENTS_FILE": str(tmp_path / "e.jsonl")})
    assert sink == FileSink(tmp_path / "e.jsonl")


def test_the_local_clock_is_real_time_plus_the_offset_in_its_file(tmp_path):
    path = tmp_path / "clock.json"
    clock = LocalPlatform().clock({"LOCAL_CLOCK_FILE": str(path)})
    assert clock == OffsetFileClock(path) and clock.offset() == timedelta(0), "no file yet: no offset"
    path.write_text(json.dumps({"offset_seconds": 86_400 * 3}))
    moved = clock.now() - datetime.now(timezone.utc)
    assert timedelta(days=3) - timedelta(seconds=5) < moved <= timedelta(days=3)


def test_the_file_sink_appends_one_line_per_event_and_logs_it(tmp_path):
    logged: list[str] = []
    sink = FileSink(tmp_path / "deep" / "events.jsonl")
    sink([DomainEvent("PointsEarned", {"member_id": "m-1", "points": 5})], logged.append)
    sink([DomainEvent("TierChanged", {"member_id": "m-1"})], logged.append)
    lines = [json.loads(line) for line in (tmp_path / "deep" / "events.jsonl").read_text().splitlines()]
    assert [(line["detail-type"], line["detail"]["member_id"], line["source"]) for line in lines] == [
        ("PointsEarned", "m-1", "loyalty"), ("TierChanged", "m-1", "loyalty")]
    assert logged == ['event PointsEarned {"member_id": "m-1", "points": 5}', 'event TierChanged {"member_id": "m-1"}']
