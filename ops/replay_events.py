"""Publish again the domain events a failed stream batch did not deliver (docs/reliability.md).

When the publisher fails a stream batch past its retries, Lambda puts an OnFailure record on the events'
dead-letter queue (EventsDeadLetterQueue, whose alarm then fires). That record holds no data: only the
stream, the shard and the first and last sequence numbers. Two ways back:

- From the stream (it keeps records 24 hours): the batch's records are read again and published, so every
  event of the batch goes again, with its original id:

      python -m ops.replay_events --ledger-table <ledger> --bus <bus> --queue-url <EventsDeadLetterQueue URL>
      python -m ops.replay_events --ledger-table <ledger> --bus <bus> --message onfailure.json

- From the ledger (it is permanent): the events of the ledger entries written in a window are re-derived
  from the table (a filtered Scan: an operator's tool, never a request path). This serves a batch older than the
  stream's 24 hours (the OnFailure record's arrival times give the window), or any doubt:

      python -m ops.replay_events --ledger-table <ledger> --bus <bus> --from 2026-11-02T10:00:00Z --to 2026-11-02T11:00:00Z

A ledger event's id derives from its entry (loyalty.events.ledger_event_id), so one replayed from the ledger
has the id the stream gave it; consumers drop duplicates by `event_id`, and a replay is safe to run twice.
The events of member changes (TierChanged, MemberUpdated, PointsExpiringSoon, PointsAvailable...) and of
vouchers and campaigns are the difference of two images, which only the stream holds: they come back from the
stream within its 24 hours, not after. Locally, `make replay-events FROM=... TO=...` runs the ledger replay
against `make run`'s tables and its events file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from loyalty import events
from loyalty.settings import aws_client_config

STORED_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"  # how pynamodb stores a ledger entry's created_at (UTC, "+0000")
WINDOW_MARGIN = timedelta(minutes=5)  # around an OnFailure record's arrival times: a record is stamped after its write


@dataclass(frozen=True)
class Replayed:
    records: int  # stream records or ledger items read
    events: list[events.DomainEvent]


def _stored(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(STORED_TIME)


def ledger_events(client, ledger_table: str, start: datetime, end: datetime) -> Replayed:
    """The events of the ledger entries created in [start, end), re-derived from the table."""
    pages = client.get_paginator("scan").paginate(
        TableName=ledger_table, ConsistentRead=True,
        FilterExpression="created_at >= :start AND created_at < :end AND attribute_exists(created_seq)",
        ExpressionAttributeValues={":start": {"S": _stored(start)}, ":end": {"S": _stored(end)}},
    )
    items = sorted((item for page in pages for item in page["Items"]), key=lambda item: item["created_at"]["S"])
    return Replayed(len(items), [event for item in items for event in events.from_ledger_item(item)])


def batch_info(message: dict) -> dict:
    """The stream batch an OnFailure record names."""
    info = message.get("DDBStreamBatchInfo")
    if not isinstance(info, dict) or not {"streamArn", "shardId", "startSequenceNumber", "endSequenceNumber"} <= set(info):
        raise ValueError("not a DynamoDB stream OnFailure record (no DDBStreamBatchInfo)")
    return info


def stream_batch(streams, info: dict) -> list[dict] | None:
    """The records of a dead-lettered batch, read again from the stream; None once the stream has trimmed them."""
    from botocore.exceptions import ClientError

    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(StreamArn=info["streamArn"], ShardId=info["shardId"],
                                              ShardIteratorType="AT_SEQUENCE_NUMBER",
                                              SequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("TrimmedDataAccessException", "ResourceNotFoundException"):
            return None
        raise
    records: list[dict] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in page["Records"]:
            sequence = int(record["dynamodb"]["SequenceNumber"])
            if sequence > last:
                return records
            if sequence >= first:
                records.append(_as_lambda_delivers(record, info["streamArn"]))
        if not page["Records"]:
            return records  # the shard is open and has nothing further yet
        iterator = page.get("NextShardIterator")
    return records


def _as_lambda_delivers(record: dict, arn: str) -> dict:
    """boto3 parses the creation time; Lambda passes epoch seconds."""
    change = dict(record["dynamodb"])
    if isinstance(change.get("ApproximateCreationDateTime"), datetime):
        change["ApproximateCreationDateTime"] = int(change["ApproximateCreationDateTime"].timestamp())
    return {**record, "dynamodb": change, "eventSourceARN": arn}


def dead_lettered_events(message: dict, streams, client, ledger_table: str) -> Replayed:
    """The events of a dead-lettered batch: from the stream while it has them, else the ledger's of its window."""
    info = batch_info(message)
    records = stream_batch(streams, info)
    if records is not None:
        return Replayed(len(records), events.from_stream(records))
    start = _arrival(info, "approximateArrivalOfFirstRecord") - WINDOW_MARGIN
    end = _arrival(info, "approximateArrivalOfLastRecord") + WINDOW_MARGIN
    return ledger_events(client, ledger_table, start, end)


def _arrival(info: dict, name: str) -> datetime:
    if name not in info:
        raise ValueError(f"the stream no longer holds this batch and its record has no {name}: replay a window (--from/--to)")
    return datetime.fromisoformat(str(info[name]).replace("Z", "+00:00"))


def queue_messages(sqs, queue_url: str) -> Iterable[tuple[dict, Callable[[], None]]]:
    """The dead-letter queue's messages, each with the call that deletes it (made once it is replayed)."""
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"):
        for message in messages:
            yield json.loads(message["Body"]), (lambda handle=message["ReceiptHandle"]: sqs.delete_message(
                QueueUrl=queue_url, ReceiptHandle=handle))


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give a time zone (Z or +hh:mm)")
    return moment


def main(argv: Sequence[str] | None = None, publisher: events.Publisher | None = None, clients: dict | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.replay_events", description=__doc__.splitlines()[0])
    parser.add_argument("--ledger-table", required=True)
    parser.add_argument("--bus", required=True, help='the event bus, or "local" (the events file, as `make run`)')
    parser.add_argument("--local-events-file", type=Path, default=Path(".local/events.jsonl"))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="start", type=_time, help="with --to: the ledger entries created in [from, to)")
    source.add_argument("--message", type=Path, help="an OnFailure record (JSON), as the dead-letter queue holds it")
    source.add_argument("--queue-url", help="the events' dead-letter queue: replay and delete each of its records")
    parser.add_argument("--to", dest="end", type=_time)
    parser.add_argument("--endpoint-url", help="DynamoDB's endpoint (make run's: http://127.0.0.1:3002)")
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    if (args.start is None) != (args.end is None):
        parser.error("--from and --to go together")
    clients = clients or {}
    if not clients:
        import boto3

        config = aws_client_config()
        clients = {"dynamodb": boto3.client("dynamodb", endpoint_url=args.endpoint_url, region_name=args.region, config=config),
                   "dynamodbstreams": boto3.client("dynamodbstreams", endpoint_url=args.endpoint_url,
                                                   region_name=args.region, config=config)}
        if args.queue_url:
            clients["sqs"] = boto3.client("sqs", region_name=args.region, config=config)
    if publisher is None:
        sink = None
        if args.bus == "local":  # `make run`'s events file
            from loyalty_local.local_platform import FileSink

            sink = FileSink(args.local_events_file)
        publisher = events.Publisher(args.bus, region=args.region, sink=sink)
    def replay(found: Replayed, what: str) -> None:
        publisher.publish(found.events, lambda line: None)  # the count is printed below, not each event
        print(f"{what}: {found.records} records read, {len(found.events)} events published")

    if args.start is not None:
        replay(ledger_events(clients["dynamodb"], args.ledger_table, args.start, args.end), f"ledger {args.start} .. {args.end}")
    elif args.message:
        message = json.loads(args.message.read_text())
        replay(dead_lettered_events(message, clients["dynamodbstreams"], clients["dynamodb"], args.ledger_table),
               f"batch {batch_info(message)['startSequenceNumber']}..")
    else:
        for message, delete in queue_messages(clients["sqs"], args.queue_url):
            replay(dead_lettered_events(message, clients["dynamodbstreams"], clients["dynamodb"], args.ledger_table),
                   f"batch {batch_info(message)['startSequenceNumber']}..")
            delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
