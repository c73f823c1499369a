"""DynamoDB Streams delivery for the local runtime: what Lambda's event source mapping does in AWS.

Reads moto's stream of every table that a function of the template consumes and hands new
records to that function, in order, every half second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from loyalty_local.template import LOCAL_REGION, FunctionSpec

POLL_SECONDS = 0.5


def _as_lambda_delivers(record: dict, arn: str) -> dict:
    """boto3 parses the creation time into a datetime; Lambda passes epoch seconds."""
    change = dict(record["dynamodb"])
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = int(change["ApproximateCreationDateTime"].timestamp())
    return {**record, "dynamodb": change, "eventSourceARN": arn}


class StreamPoller:
    def __init__(self, endpoint: str, specs: dict[str, FunctionSpec], deliver: Callable[[str, dict], None], log) -> None:
        import boto3

        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=LOCAL_REGION)
        tables = boto3.client("dynamodb", endpoint_url=endpoint, region_name=LOCAL_REGION)
        self.deliver, self.log = deliver, log
        self.stopping = threading.Event()
        self.iterators: dict[tuple[str, str], str] = {}  # (function, stream arn) -> shard iterator
        self.sources: dict[str, str] = {}
        for spec in specs.values():
            for table in spec.streams:
                arn = tables.describe_table(TableName=table)["Table"]["LatestStreamArn"]
                for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                    iterator = self.streams.get_shard_iterator(
                        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                    )["ShardIterator"]
                    self.iterators[(spec.logical_id, arn)] = iterator
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.wait(POLL_SECONDS):
            for (function, arn), iterator in list(self.iterators.items()):
                try:
                    page = self.streams.get_records(ShardIterator=iterator, Limit=100)
                    self.iterators[(function, arn)] = page["NextShardIterator"]
                    if page["Records"]:
                        self.deliver(function, {"Records": [_as_lambda_delivers(record, arn) for record in page["Records"]]})
                except Exception as error:  # noqa: BLE001 - keep polling; Lambda would retry the batch too
                    self.log(f"[streams] delivering to {function} failed: {error}")
