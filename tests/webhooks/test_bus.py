"""The local EventBridge (loyalty_local/bus.py): event patterns, the template's rules and targets, following the
events file, and the SQS event source's delivery, redelivery and dead-lettering (on moto, in-process)."""

from __future__ import annotations

import json

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from loyalty_local.bus import (
    EventsFollower, LocalBus, Router, SqsEventSource, SqsMapping, TargetTypes, UnsupportedPattern, check_pattern,
    create_queues, envelope, matches, rules_of, sqs_mappings,
)
from loyalty_local.template import functions, load_template

EARNED = {"source": "loyalty", "detail-type": "PointsEarned", "detail": {"member_id": "m1", "points": 10, "tags": ["a", "b"]}}


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"source": ["loyalty"]}, True),
    ({"source": ["other"]}, False),
    ({"detail-type": ["TierChanged", "PointsEarned"]}, True),
    ({"source": ["loyalty"], "detail-type": ["TierChanged"]}, False),
    ({"detail": {"points": [10]}}, True),
    ({"detail": {"points": ["10"]}}, False),  # types count, as in EventBridge
    ({"detail": {"member_id": [{"prefix": "m"}]}}, True),
    ({"detail": {"member_id": [{"prefix": "x"}]}}, False),
    ({"detail-type": [{"anything-but": ["TierChanged"]}]}, True),
    ({"detail-type": [{"anything-but": "PointsEarned"}]}, False),
    ({"detail-type": [{"anything-but": {"prefix": "Points"}}]}, False),
    ({"detail": {"voucher_code": [{"exists": False}]}}, True),
    ({"detail": {"voucher_code": [{"exists": True}]}}, False),
    ({"detail": {"member_id": [{"exists": True}]}}, True),
    ({"detail": {"tags": ["b"]}}, True),  # an array matches when an element does
    ({"detail": {"missing": ["x"]}}, False),
    ({"detail": {"points": {"nested": ["x"]}}}, False),
])
def test_event_patterns(pattern, expected):
    check_pattern(pattern)
    assert matches(pattern, EARNED) is expected


@given(types=st.lists(st.sampled_from(["PointsEarned", "TierChanged", "MemberEnrolled", "VoucherUsed"]), min_size=1),
       actual=st.sampled_from(["PointsEarned", "TierChanged", "MemberEnrolled", "VoucherUsed"]))
def test_a_list_of_detail_types_matches_exactly_its_members(types, actual):
    assert matches({"source": ["loyalty"], "detail-type": types}, {**EARNED, "detail-type": actual}) is (actual in types)


@pytest.mark.parametrize("pattern", [{"detail": {"points": [{"numeric": [">", 0]}]}}, {"source": "loyalty"},
                                     {"source": [{"prefix": "a", "suffix": "b"}]}])
def test_what_the_router_cannot_match_is_refused_when_the_rule_loads(pattern):
    with pytest.raises(UnsupportedPattern):
        check_pattern(pattern)


def test_the_template_s_webhook_rule_sends_every_event_to_the_delivery_queue_its_function_consumes():
    template = load_template()
    rule = next(r for r in rules_of(template) if r.logical_id == "WebhookEventsRule")
    assert [(t.logical_id, t.resource_type) for t in rule.targets] == [("WebhookDeliveryQueue", "AWS::SQS::Queue")]
    assert SqsMapping("DeliverWebhooksFunction", "WebhookDeliveryQueue", 10) in sqs_mappings(template)
    assert matches(rule.pattern, envelope({"time": "2026-11-23T10:00:00.123+00:00", "source": "loyalty",
                                           "detail-type": "VoucherUsed", "detail": {}}))


def test_the_router_delivers_by_target_type_and_a_missing_stand_in_is_reported_once():
    template = {"Resources": {
        "Bus": {"Type": "AWS::Events::EventBus"},
        "Queue": {"Type": "AWS::SQS::Queue"}, "Stream": {"Type": "AWS::KinesisFirehose::DeliveryStream"},
        "Fn": {"Type": "AWS::Serverless::Function"}, "Broken": {"Type": "AWS::Serverless::Function"},
        "Tiers": {"Type": "AWS::Events::Rule", "Properties": {
            "EventBusName": {"Ref": "Bus"}, "EventPattern": {"detail-type": ["TierChanged"]},
            "Targets": [{"Id": "q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}, {"Id": "f", "Arn": {"Fn::GetAtt": ["Fn", "Arn"]}}]}},
        "All": {"Type": "AWS::Events::Rule", "Properties": {
            "EventBusName": {"Ref": "Bus"}, "EventPattern": {"source": ["loyalty"]},
            "Targets": [{"Id": "b", "Arn": {"Fn::GetAtt": ["Broken", "Arn"]}}, {"Id": "s", "Arn": {"Fn::GetAtt": ["Stream", "Arn"]}},
                        {"Id": "q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}]}},
        "OtherBus": {"Type": "AWS::Events::Rule", "Properties": {
            "EventBusName": "default", "EventPattern": {"source": ["loyalty"]},
            "Targets": [{"Id": "q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}]}},
    }}
    got, logs = [], []
    types = TargetTypes()
    types.register("AWS::SQS::Queue", lambda name, event: got.append(("sqs", name, event["detail-type"])))

    def invoke(name, event):
        if name == "Broken":
            raise RuntimeError("boom")
        got.append(("lambda", name, event["detail-type"]))

    types.register("AWS::Serverless::Function", invoke)
    router = Router(rules_of(template, "Bus"), types, logs.append)
    assert router.route({**EARNED, "detail-type": "TierChanged"}) == 3
    assert router.route(EARNED) == 1
    assert got == [("sqs", "Queue", "TierChanged"), ("lambda", "Fn", "TierChanged"), ("sqs", "Queue", "TierChanged"),
                   ("sqs", "Queue", "PointsEarned")]
    assert sum("no local stand-in for AWS::KinesisFirehose::DeliveryStream" in line for line in logs) == 1
    assert sum("Broken failed: boom" in line for line in logs) == 2
    types.register("AWS::KinesisFirehose::DeliveryStream", lambda name, event: got.append(("firehose", name, event["detail-type"])))
    router.route(EARNED)
    assert ("firehose", "Stream", "PointsEarned") in got


def test_the_follower_routes_each_complete_line_once(tmp_path):
    path = tmp_path / "events.jsonl"
    routed = []

    class Collect:
        def route(self, event):
            routed.append(event["detail"]["n"])

    follower = EventsFollower(path, Collect(), lambda line: None)
    assert follower.poll_once() == 0  # no file yet

    def line(n):
        return json.dumps({"time": "2026-11-23T10:00:00+00:00", "source": "loyalty", "detail-type": "X", "detail": {"n": n}})

    path.write_text(line(1) + "\n" + line(2) + "\n" + line(3)[:10])  # the third is still being written
    assert follower.poll_once() == 2 and routed == [1, 2]
    with open(path, "a") as sink:
        sink.write(line(3)[10:] + "\n")
    assert follower.poll_once() == 1 and routed == [1, 2, 3]
    assert follower.poll_once() == 0
    path.write_text(line(4) + "\n")  # a new run truncates the file
    follower.poll_once()
    assert routed == [1, 2, 3, 4]


TINY = {"Resources": {
    "Work": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 0, "RedrivePolicy": {
        "deadLetterTargetArn": {"Fn::GetAtt": ["Dead", "Arn"]}, "maxReceiveCount": 3}}},
    "Dead": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
}}


@pytest.fixture
def sqs():
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def test_queues_are_created_with_their_redrive_policy(sqs):
    urls = create_queues(sqs, TINY)
    attributes = sqs.get_queue_attributes(QueueUrl=urls["Work"], AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:Dead",
                                                       "maxReceiveCount": 3}


def test_a_failing_function_gets_the_batch_again_then_it_is_dead_lettered(sqs):
    urls = create_queues(sqs, TINY)
    sqs.send_message(QueueUrl=urls["Work"], MessageBody="poison")
    calls = []

    def invoke(name, event):
        calls.append([record["attributes"]["ApproximateReceiveCount"] for record in event["Records"]])
        raise RuntimeError("handler failed")

    source = SqsEventSource(sqs, urls["Work"], SqsMapping("Fn", "Work", 10), invoke, lambda line: None)
    for _ in range(6):
        source.poll_once()
    assert calls == [["1"], ["2"], ["3"]]  # offered again after its visibility timeout, then moved
    dead = sqs.receive_message(QueueUrl=urls["Dead"], MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]


def test_what_the_function_reports_as_failed_stays_and_the_rest_is_deleted(sqs):
    urls = create_queues(sqs, TINY)
    for body in ("ok-1", "keep", "ok-2"):
        sqs.send_message(QueueUrl=urls["Work"], MessageBody=body)
    seen = []

    def invoke(name, event):
        seen.extend(record["body"] for record in event["Records"])
        assert all(record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":Work") for record in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "keep"]}

    source = SqsEventSource(sqs, urls["Work"], SqsMapping("Fn", "Work", 10), invoke, lambda line: None)
    while source.poll_once() and len(seen) < 5:
        pass
    assert sorted(seen[:3]) == ["keep", "ok-1", "ok-2"] and set(seen[3:]) <= {"keep"}
    assert seen.count("keep") >= 2 and seen.count("ok-1") == 1


def test_the_runtime_gives_functions_the_local_queue_urls_and_key_arns():
    with mock_aws():
        bus = LocalBus(load_template(), None, None)
        specs = bus.prepare(functions())
    deliverer = specs["DeliverWebhooksFunction"].environment
    assert deliverer["WEBHOOK_QUEUE_URL"] == bus.queue_urls["WebhookDeliveryQueue"]
    assert deliverer["WEBHOOK_QUEUE_URL"].startswith(("http://", "https://"))
    assert deliverer["WEBHOOK_SECRETS_KEY_ID"].startswith("arn:aws:kms:us-east-1:")
    assert specs["WebhooksFunction"].environment["WEBHOOK_SECRETS_KEY_ID"] == deliverer["WEBHOOK_SECRETS_KEY_ID"]
    assert specs["EnrollFunction"].environment == functions()["EnrollFunction"].environment
    assert LocalBus.environment("http://127.0.0.1:1")["WEBHOOK_URL_POLICY"] == "public-or-loopback-http"
