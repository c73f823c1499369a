"""DynamoDB Streams delivery for the local runtime: what Lambda's event source mapping does in AWS.

Reads moto's stream of every table that a function of the template consumes (its `DynamoDB`
events) and hands the new records to that function as a Lambda stream event, in order, every
half second. A batch whose delivery raises is offered again on the next poll (at least once, as
in AWS). Delivered records are dropped from moto's stream, which would otherwise keep every change
of the run in memory; so the runtime must be their only reader, with moto in its own process.
"""

from __future__ import annotations

from collections.abc import Callable

from loyalty_local.poller import Poller
from loyalty_local.moto_atomic import forget_shard_iterator, trim_stream
from loyalty_local.template import LOCAL_ACCOUNT, LOCAL_REGION, FunctionSpec, functions

POLL_SECONDS = 0.5
BATCH_SIZE = 100  # the template's BatchSize for the publisher

Deliver = Callable[[str, dict], None]  # (function logical id, stream event)


def start_stream_poller(dynamodb_endpoint: str, deliver: Deliver, log: Callable[[str], None] = print) -> Callable[[], None]:
    """Start polling the streams of the template's stream-consuming functions; returns the call that stops it.

    Call it once the tables exist (`create_tables`): delivery starts at the oldest record.
    """
    poller = StreamPoller(dynamodb_endpoint, functions(), deliver, log)
    poller.start()
    return poller.stop


def _as_lambda_delivers(record: dict, arn: str) -> dict:
    """boto3 parses the creation time into a datetime; Lambda passes epoch seconds."""
    change = dict(record["dynamodb"])
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = int(change["ApproximateCreationDateTime"].timestamp())
    return {**record, "dynamodb": change, "eventSourceARN": arn}


class StreamPoller(Poller):
    def __init__(self, endpoint: str, specs: dict[str, FunctionSpec], deliver: Deliver, log: Callable[[str], None]) -> None:
        import boto3

        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=LOCAL_REGION)
        tables = boto3.client("dynamodb", endpoint_url=endpoint, region_name=LOCAL_REGION)
        super().__init__("stream-poller", POLL_SECONDS, log)
        self.deliver = deliver
        self.iterators: dict[tuple[str, str, str], str] = {}  # (function, table, stream arn) -> shard iterator
        self.delivered: dict[tuple[str, str, str], int] = {}  # the same -> last sequence number delivered
        for spec in specs.values():
            for table in spec.streams:
                arn = tables.describe_table(TableName=table)["Table"]["LatestStreamArn"]
                for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                    self.iterators[(spec.logical_id, table, arn)] = self.streams.get_shard_iterator(
                        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                    )["ShardIterator"]
                    self.delivered[(spec.logical_id, table, arn)] = -1

    def poll_once(self) -> int:
        """Deliver what is new on every stream; returns the number of records delivered."""
        delivered = 0
        for reader, iterator in list(self.iterators.items()):
            function, table, arn = reader
            try:
                page = self.streams.get_records(ShardIterator=iterator, Limit=BATCH_SIZE)
                if page["Records"]:
                    self.deliver(function, {"Records": [_as_lambda_delivers(record, arn) for record in page["Records"]]})
                    delivered += len(page["Records"])
                    self.delivered[reader] = int(page["Records"][-1]["dynamodb"]["SequenceNumber"])
                    # What every reader of the table has had is needed no more.
                    trim_stream(table, min(last for (_, name, _), last in self.delivered.items() if name == table),
                                LOCAL_ACCOUNT, LOCAL_REGION)
                self.iterators[reader] = page["NextShardIterator"]  # only once delivered
                forget_shard_iterator(iterator, LOCAL_ACCOUNT, LOCAL_REGION)
            except Exception as error:  # noqa: BLE001 - keep polling; Lambda retries a failed batch too
                self.log(f"[streams] delivering to {function} failed: {error}")
        return delivered

