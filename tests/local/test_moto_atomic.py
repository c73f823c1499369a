"""moto's DynamoDB as the local runtime runs it: transactions all-or-nothing at the cost of their items, streams bounded."""

from __future__ import annotations

import sys
import threading
import time
import tracemalloc

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from loyalty_local.moto_atomic import make_dynamodb_atomic, trim_stream
from loyalty_local.template import LOCAL_ACCOUNT, LOCAL_REGION

TABLE = "Things"


@pytest.fixture
def dynamodb():
    make_dynamodb_atomic()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=LOCAL_REGION)
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        yield client


def put(pk: str, version: int = 1, **extra) -> dict:
    return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": pk}, "version": {"N": str(version)}, **extra}}}


def bump_if(pk: str, version: int) -> dict:
    return {"Update": {"TableName": TABLE, "Key": {"pk": {"S": pk}}, "UpdateExpression": "SET version = version + :one",
                       "ConditionExpression": "version = :v", "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                       "ExpressionAttributeValues": {":one": {"N": "1"}, ":v": {"N": str(version)}}}}


def stream(client) -> tuple[object, str]:
    streams = boto3.client("dynamodbstreams", region_name=LOCAL_REGION)
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return streams, streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]


def test_a_cancelled_transaction_writes_nothing_and_says_why(dynamodb):
    dynamodb.transact_write_items(TransactItems=[put("a"), put("b"), put("d")])
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[bump_if("a", 1), put("c"), {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "d"}}}},
                                                     bump_if("b", 7)])
    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert reasons[3]["Item"] == {"pk": {"S": "b"}, "version": {"N": "1"}}
    items = dynamodb.scan(TableName=TABLE)["Items"]
    assert sorted((item["pk"]["S"], item["version"]["N"]) for item in items) == [("a", "1"), ("b", "1"), ("d", "1")]


def test_a_transaction_naming_one_item_twice_is_invalid(dynamodb):
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[put("a"), bump_if("a", 1)])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert dynamodb.scan(TableName=TABLE)["Items"] == []


def test_a_stream_reader_sees_the_committed_writes_only_and_keeps_following_after_a_cancellation(dynamodb):
    streams, iterator = stream(dynamodb)
    dynamodb.transact_write_items(TransactItems=[put("a")])
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[put("b"), bump_if("a", 9)])
    dynamodb.transact_write_items(TransactItems=[bump_if("a", 1)])
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [(record["eventName"], record["dynamodb"]["Keys"]["pk"]["S"]) for record in records] == [("INSERT", "a"), ("MODIFY", "a")]


def test_a_cancelled_transaction_costs_its_items_not_its_tables(dynamodb):
    for start in range(0, 2000, 25):
        dynamodb.transact_write_items(TransactItems=[put(f"filler-{n}", data={"S": "x" * 200}) for n in range(start, start + 25)])
    request = [bump_if("filler-1", 1), bump_if("filler-2", 5)]
    dynamodb.transact_write_items(TransactItems=[bump_if("filler-3", 1)])  # the client's own first-call costs, outside the count
    tracemalloc.start()
    try:
        with pytest.raises(ClientError):
            dynamodb.transact_write_items(TransactItems=request)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_500_000, f"{peak:,} bytes at the peak: the whole table was copied (about 2 MB of items and records)"


def test_consumed_stream_records_can_be_dropped_and_numbering_goes_on(dynamodb):
    streams, iterator = stream(dynamodb)
    dynamodb.transact_write_items(TransactItems=[put("a"), put("b")])
    page = streams.get_records(ShardIterator=iterator)
    numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in page["Records"]]
    trim_stream(TABLE, numbers[-1], LOCAL_ACCOUNT, LOCAL_REGION)
    dynamodb.transact_write_items(TransactItems=[bump_if("a", 1)])
    after = streams.get_records(ShardIterator=page["NextShardIterator"])["Records"]
    assert [int(record["dynamodb"]["SequenceNumber"]) for record in after] == [numbers[-1] + 1]
    _, from_the_start = stream(dynamodb)
    assert len(streams.get_records(ShardIterator=from_the_start)["Records"]) == 1, "only what was not consumed is kept"


def test_a_read_of_many_items_is_not_broken_by_a_write_that_adds_an_item_meanwhile(dynamodb):
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[LOCAL_ACCOUNT][LOCAL_REGION]  # moto's own calls: quick enough to race
    for n in range(5_000):
        backend.put_item(TABLE, {"pk": {"S": f"filler-{n}"}})
    failures: list[Exception] = []
    deadline = time.monotonic() + 3

    def write() -> None:
        n = 0
        while time.monotonic() < deadline:
            backend.put_item(TABLE, {"pk": {"S": f"new-{n}"}})
            n += 1

    writer = threading.Thread(target=write)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often, as a busy runtime's do: the race shows within seconds
    writer.start()
    try:
        while time.monotonic() < deadline:
            try:
                dynamodb.scan(TableName=TABLE, FilterExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "filler-1"}})
            except Exception as error:  # noqa: BLE001 - moto's "dictionary changed size during iteration"
                failures.append(error)
    finally:
        writer.join()
        sys.setswitchinterval(interval)
    assert not failures, failures[0]


def test_moto_keeps_no_copy_of_the_items_and_stream_records_it_made():
    """moto appends every model object to its class's `instances_tracked` (for its dashboard): every item image,
    stream record and shard iterator of a run, which is what grew under steady traffic. The runtime's moto does not."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord

    with mock_aws():  # moto resets its tracking when a mock starts: the runtime turns it off after that
        make_dynamodb_atomic()
        client = boto3.client("dynamodb", region_name=LOCAL_REGION)
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        for version in range(1, 50):
            client.transact_write_items(TransactItems=[put("a", version)])
            client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})
        assert len(Item.instances_tracked) == len(StreamRecord.instances_tracked) == 0
        assert client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})["Item"]["version"] == {"N": "49"}
