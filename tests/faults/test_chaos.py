"""The chaos run in `make test`: seeded and small, without the SDK's retries so that every fault reaches a client
(the larger run, with the shipped retries and the share of 2xx, is `make bench`'s benchmarks/chaos.py)."""

from __future__ import annotations

import json

import boto3

from benchmarks.chaos import ChaosRun, report
from loyalty import events
from loyalty.store.faults import FaultPlan, attach
from ops import replay_events
from tests.faults.conftest import Handlers

SEED = 2126
OPERATIONS = 160
PLAN = (f"seed={SEED};dynamodb.*=throttle:0.04,conflict:0.03,lost:0.03,reset:0.02,internal:0.02;"
        "eventbridge.PutEvents=partial:0.2,throttling:0.05")  # 14% of DynamoDB calls, 25% of PutEvents


def _consumer():
    bridge, sqs = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    bridge.create_event_bus(Name="chaos")
    queue_url = sqs.create_queue(QueueName="chaos-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bridge.put_rule(Name="all", EventBusName="chaos", EventPattern=json.dumps({"source": [events.SOURCE]}))
    bridge.put_targets(Rule="all", EventBusName="chaos", Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict]:
        found = []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            found += [json.loads(message["Body"]) for message in messages]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(messages)])
        return found

    return received


def test_the_chaos_run_breaks_no_invariant(inject, capsys):
    received = _consumer()
    injector = inject(FaultPlan.parse(PLAN))
    handlers = Handlers(DYNAMODB_MAX_ATTEMPTS="1", CATALOG_CACHE_SECONDS="0", CAMPAIGN_CACHE_SECONDS="0")
    # A job run makes dozens of calls (a Query per shard): without the SDK's retries almost every run would fail.
    job_handlers = Handlers()

    def call(function: str, event: dict):
        answer = handlers.call(function, event)
        return answer.status, answer.body, answer.headers

    def job(function: str, event: dict):
        from tests.conftest import LambdaContext, load_function

        handler = load_function(function, 0, **job_handlers.env).lambda_handler
        return 200, handler(event, LambdaContext(function_name=function)), {}

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    run = ChaosRun(lambda function, event: (job if "routeKey" not in event else call)(function, event), injector, dynamodb,
                   seed=SEED, operations=OPERATIONS)
    outcome = run.run()

    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = dynamodb.describe_table(TableName="LedgerTable")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = [replay_events._as_lambda_delivers(r, arn) for r in streams.get_records(ShardIterator=iterator)["Records"]]
    publisher = events.Publisher("chaos", region="us-east-1", sleep=lambda seconds: None)
    attach(injector, publisher.client())
    injector.enabled = True

    def publish(batch: list[dict]) -> None:
        publisher.publish(events.from_stream(batch), lambda line: None)

    def replay(batch: list[dict]) -> None:  # the operator's replay of the dead-lettered batch, once the bus is well
        injector.enabled = False
        message = {"DDBStreamBatchInfo": {"streamArn": arn, "shardId": shard, "batchSize": len(batch),
                                          "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                                          "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"]}}
        publisher.publish(replay_events.dead_lettered_events(message, streams, dynamodb, "LedgerTable").events,
                          lambda line: None)
        injector.enabled = True

    run.check_events(publish, replay, received, records)
    injector.enabled = False
    outcome.injected = injector.summary()
    report(outcome, PLAN)
    printed = capsys.readouterr().out
    print(printed)
    assert f"seed {SEED}" in printed and "injected" in printed and "checked" in printed
    assert sum(count for kinds in outcome.injected.values() for count in kinds.values()) > 20, "faults were injected"
    assert outcome.statuses[503] > 0, "and reached the clients"
    assert outcome.violations == []
