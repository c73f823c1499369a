"""DynamoDB Streams delivery for the local runtime: what Lambda's event source mapping does in AWS.

Reads moto's stream of every table that a function of the template consumes (its `DynamoDB`
events) and hands the new records to that function as a Lambda stream event, in order, every
half second, as the template's event source says:
- records matching none of its `FilterCriteria` patterns are passed over, never delivered;
- a batch whose invocation fails is offered again on the next poll; with `ReportBatchItemFailures`,
  the records from the first one the function reports as failed onwards are, and those before it are done;
- after `MaximumRetryAttempts` retries the batch is given up on: its place in the stream (Lambda's
  `DDBStreamBatchInfo`) goes to the `OnFailure` queue, from which `ops/replay_events.py` replays it, and
  the records after it are delivered. (Lambda's `BisectBatchOnFunctionError` is not copied: locally a failed
  batch is retried whole.)
Delivered records are dropped from moto's stream, which would otherwise keep every change
of the run in memory; so the runtime must be their only reader, with moto in its own process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from loyalty_local.bus import matches
from loyalty_local.moto_atomic import forget_shard_iterator, trim_stream
from loyalty_local.poller import Poller
from loyalty_local.template import LOCAL_ACCOUNT, LOCAL_REGION, FunctionSpec, StreamSource, functions

POLL_SECONDS = 0.5
BATCH_SIZE = 100  # the template's BatchSize for the publisher

Deliver = Callable[[str, dict], Any]  # (function logical id, stream event) -> the function's result
GiveUp = Callable[[str, dict], None]  # (OnFailure queue's logical id, Lambda's message about the batch)


def start_stream_poller(dynamodb_endpoint: str, deliver: Deliver, log: Callable[[str], None] = print,
                        give_up: GiveUp | None = None) -> Callable[[], None]:
    """Start polling the streams of the template's stream-consuming functions; returns the call that stops it.

    Call it once the tables exist (`create_tables`): delivery starts at the oldest record.
    """
    poller = StreamPoller(dynamodb_endpoint, functions(), deliver, log, give_up)
    poller.start()
    return poller.stop


def _as_lambda_delivers(record: dict, arn: str) -> dict:
    """boto3 parses the creation time into a datetime; Lambda passes epoch seconds."""
    change = dict(record["dynamodb"])
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = int(change["ApproximateCreationDateTime"].timestamp())
    return {**record, "dynamodb": change, "eventSourceARN": arn}


@dataclass
class Reader:
    """One function's place in one table's stream, and the batch it has not yet got through."""

    function: str
    source: StreamSource
    arn: str
    shard: str
    iterator: str
    delivered: int = -1  # the last sequence number done with
    pending: list[dict] = field(default_factory=list)  # Lambda-shaped records still to deliver
    through: int = -1  # the last sequence number of the page they came from (filtered records included)
    retries: int = 0


def _sequence(record: dict) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


class StreamPoller(Poller):
    def __init__(self, endpoint: str, specs: dict[str, FunctionSpec], deliver: Deliver, log: Callable[[str], None],
                 give_up: GiveUp | None = None) -> None:
        import boto3

        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=LOCAL_REGION)
        tables = boto3.client("dynamodb", endpoint_url=endpoint, region_name=LOCAL_REGION)
        super().__init__("stream-poller", POLL_SECONDS, log)
        self.deliver, self.give_up = deliver, give_up
        self.readers: list[Reader] = []
        for spec in specs.values():
            for source in spec.streams:
                arn = tables.describe_table(TableName=source.table)["Table"]["LatestStreamArn"]
                for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                    iterator = self.streams.get_shard_iterator(
                        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                    self.readers.append(Reader(spec.logical_id, source, arn, shard["ShardId"], iterator))

    def poll_once(self) -> int:
        """Deliver what is new on every stream; returns the number of records delivered."""
        delivered = 0
        for reader in self.readers:
            try:
                delivered += self._poll(reader)
            except Exception as error:  # noqa: BLE001 - keep polling; Lambda retries a failed batch too
                self.log(f"[streams] delivering to {reader.function} failed: {error}")
        return delivered

    def _poll(self, reader: Reader) -> int:
        if not reader.pending:
            page = self.streams.get_records(ShardIterator=reader.iterator, Limit=BATCH_SIZE)
            forget_shard_iterator(reader.iterator, LOCAL_ACCOUNT, LOCAL_REGION)
            reader.iterator = page["NextShardIterator"]
            batch = [_as_lambda_delivers(record, reader.arn) for record in page["Records"]]
            if not batch:
                return 0
            reader.through = _sequence(batch[-1])
            reader.pending = [r for r in batch if not reader.source.filters
                              or any(matches(pattern, r) for pattern in reader.source.filters)]
            reader.retries = 0
            if not reader.pending:  # filtered out: done with, as Lambda drops them
                self._done(reader)
                return 0
        batch = reader.pending
        try:
            result = self.deliver(reader.function, {"Records": batch})
        except Exception as error:  # noqa: BLE001 - the function failed: the whole batch again
            self.log(f"[streams] delivering to {reader.function} failed: {error}")
            return self._failed(reader, batch)
        reported = {str(f.get("itemIdentifier")) for f in (result or {}).get("batchItemFailures", [])} \
            if reader.source.report_item_failures and isinstance(result, dict) else set()
        first_failed = next((i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in reported), None)
        if first_failed is None:
            self._done(reader)
            return len(batch)
        if first_failed:
            reader.delivered = _sequence(batch[first_failed - 1])
        self.log(f"[streams] {reader.function} reported {len(reported)} of {len(batch)} records as failed")
        self._failed(reader, batch[first_failed:])
        return first_failed

    def _failed(self, reader: Reader, remaining: list[dict]) -> int:
        """The records from the first failed one are offered again, until the retries allowed are spent."""
        reader.retries += 1
        allowed = reader.source.max_retry_attempts
        if allowed < 0 or reader.retries <= allowed:
            reader.pending = remaining
            return 0
        self.log(f"[streams] {reader.function}: gave up on {len(remaining)} records after {allowed} retries"
                 + (f"; their place is on {reader.source.on_failure}" if reader.source.on_failure else ""))
        if reader.source.on_failure and self.give_up is not None:
            self.give_up(reader.source.on_failure, self._batch_info(reader, remaining))
        self._done(reader)
        return 0

    def _done(self, reader: Reader) -> None:
        """Every record of the page delivered, passed over or given up on."""
        reader.pending, reader.retries = [], 0
        reader.delivered = max(reader.delivered, reader.through)
        # What every reader of the table has had is needed no more.
        trim_stream(reader.source.table, min(r.delivered for r in self.readers if r.source.table == reader.source.table),
                    LOCAL_ACCOUNT, LOCAL_REGION)

    @staticmethod
    def _batch_info(reader: Reader, batch: list[dict]) -> dict:
        """What Lambda sends the OnFailure destination: where the batch was, not what it held."""
        def arrival(record: dict) -> str:
            return datetime.fromtimestamp(record["dynamodb"].get("ApproximateCreationDateTime", 0), timezone.utc).isoformat()

        return {"version": "1.0", "timestamp": datetime.now(timezone.utc).isoformat(),
                "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn":
                                   f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{reader.function}",
                                   "approximateInvokeCount": reader.retries},
                "DDBStreamBatchInfo": {"shardId": reader.shard, "streamArn": reader.arn, "batchSize": len(batch),
                                       "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                                       "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                                       "approximateArrivalOfFirstRecord": arrival(batch[0]),
                                       "approximateArrivalOfLastRecord": arrival(batch[-1])}}
