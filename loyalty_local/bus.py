"""The local EventBridge: what the program's bus, its rules and Lambda's SQS event source mappings do in AWS.

Locally the publisher appends every domain event to `.local/events.jsonl` (loyalty/events.py). The router
follows that file and gives each new event, as EventBridge's envelope, to every rule of template.yaml on the
program's bus whose EventPattern matches it, then to the rule's targets by their type:

- an SQS queue: a queue of the runtime's moto server (created from the template, with its visibility timeout,
  retention and RedrivePolicy, so redelivery after the visibility timeout and the dead-letter queue after
  maxReceiveCount behave as in SQS); an `SqsEventSource` per function `SQS` event then polls it and invokes the
  function with Lambda's SQS event, deleting what it did not report in `batchItemFailures`;
- a Lambda function: invoked (asynchronously, as EventBridge does).

Other target types plug in with `TargetTypes.register(resource_type, deliver)` (a Firehose stand-in, say).
The queues' timers run on the real time, not on the business clock: moving the clock does not hurry a retry.

Event patterns: exact values, `prefix`, `anything-but`, `exists` and nested objects (what EventBridge's
content filtering offers that this template uses, and a little more); others are refused when a rule loads.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loyalty_local.poller import Poller
from loyalty_local.template import LOCAL_ACCOUNT, LOCAL_REGION, resolve, resources_of_type

POLL_SECONDS = 0.2
STOP_SECONDS = 5.0  # all of the bus's threads together, whatever their number (SIGTERM must end a run within 5 s)
BUS_LOGICAL_ID = "LoyaltyEventBus"
MATCHERS = {"prefix", "anything-but", "exists"}

Deliver = Callable[[str, dict], None]  # (target's logical id, EventBridge envelope)


# ---------------------------------------------------------------- patterns


class UnsupportedPattern(ValueError):
    """A pattern uses what this router does not implement: refused at load, never silently unmatched."""


def check_pattern(pattern: dict) -> None:
    for name, wanted in pattern.items():
        if isinstance(wanted, dict):
            check_pattern(wanted)
        elif isinstance(wanted, list):
            for value in wanted:
                if isinstance(value, dict) and (len(value) != 1 or next(iter(value)) not in MATCHERS):
                    raise UnsupportedPattern(f"{name}: {value} (supported: values, {', '.join(sorted(MATCHERS))})")
        else:
            raise UnsupportedPattern(f"{name}: a pattern's leaves are lists, not {wanted!r}")


def _value_matches(value: Any, present: bool, rule: Any) -> bool:
    if isinstance(rule, dict):
        (kind, arg), = rule.items()
        if kind == "exists":
            return present == bool(arg)
        if not present:
            return False
        if kind == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        if kind == "anything-but":
            if isinstance(arg, dict) and "prefix" in arg:
                return not (isinstance(value, str) and value.startswith(arg["prefix"]))
            return value not in (arg if isinstance(arg, list) else [arg])
    return present and value == rule


def matches(pattern: dict, event: dict) -> bool:
    """Whether an event (or a part of it) matches an EventBridge event pattern: every field named must match,
    a list matches when any of its values does, and an array in the event matches when any element does."""
    for name, wanted in pattern.items():
        present = isinstance(event, dict) and name in event
        value = event.get(name) if present else None
        if isinstance(wanted, dict):
            if not (present and isinstance(value, dict) and matches(wanted, value)):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(_value_matches(v, present, rule) for rule in wanted for v in values):
            return False
    return True


def envelope(line: dict) -> dict:
    """A line of the local events file as EventBridge delivers it to targets."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": line["detail-type"], "source": line["source"],
            "account": LOCAL_ACCOUNT, "time": line["time"][:19] + "Z", "region": LOCAL_REGION, "resources": [],
            "detail": line["detail"]}


# ---------------------------------------------------------------- rules and targets


@dataclass(frozen=True)
class Target:
    rule: str
    logical_id: str  # the target resource
    resource_type: str


@dataclass(frozen=True)
class Rule:
    logical_id: str
    pattern: dict
    targets: tuple[Target, ...]


def rules_of(template: dict, bus: str = BUS_LOGICAL_ID) -> list[Rule]:
    """The template's rules on the program's bus, with their targets' logical ids and types."""
    found = []
    for logical_id, resource in resources_of_type(template, "AWS::Events::Rule").items():
        props = resource["Properties"]
        if props.get("EventBusName") != {"Ref": bus} or "EventPattern" not in props:
            continue
        pattern = props["EventPattern"]
        check_pattern(pattern)
        targets = []
        for target in props.get("Targets", []):
            arn = target["Arn"]
            target_id = arn["Fn::GetAtt"][0] if isinstance(arn, dict) and "Fn::GetAtt" in arn else arn.get("Ref")
            targets.append(Target(logical_id, target_id, template["Resources"][target_id]["Type"]))
        found.append(Rule(logical_id, pattern, tuple(targets)))
    return found


class TargetTypes:
    """How to deliver to each type of target: a registry the runtime fills (and another stand-in can join)."""

    def __init__(self) -> None:
        self._deliver: dict[str, Deliver] = {}

    def register(self, resource_type: str, deliver: Deliver) -> None:
        self._deliver[resource_type] = deliver

    def __contains__(self, resource_type: str) -> bool:
        return resource_type in self._deliver

    def deliver(self, target: Target, event: dict) -> None:
        self._deliver[target.resource_type](target.logical_id, event)


class Router:
    """Routes events to the targets of the rules they match; a target type nobody registered is reported once."""

    def __init__(self, rules: list[Rule], types: TargetTypes, log: Callable[[str], None] = print) -> None:
        self.rules, self.types, self.log = rules, types, log
        self._warned: set[str] = set()

    def route(self, event: dict) -> int:
        delivered = 0
        for rule in self.rules:
            if not matches(rule.pattern, event):
                continue
            for target in rule.targets:
                if target.resource_type not in self.types:
                    if target.resource_type not in self._warned:
                        self._warned.add(target.resource_type)
                        self.log(f"[bus] {rule.logical_id}: no local stand-in for {target.resource_type} targets")
                    continue
                try:
                    self.types.deliver(target, event)
                    delivered += 1
                except Exception as error:  # noqa: BLE001 - EventBridge would retry; locally it is logged
                    self.log(f"[bus] {rule.logical_id} -> {target.logical_id} failed: {error}")
        return delivered


class EventsFollower(Poller):
    """Reads the lines appended to the events file since it started and routes each."""

    def __init__(self, path: Path, router: Router, log: Callable[[str], None] = print) -> None:
        super().__init__("event-bus", POLL_SECONDS, log)
        self.path, self.router = path, router
        self.offset = 0

    def poll_once(self) -> int:
        if not self.path.exists():
            return 0
        routed = 0
        with open(self.path, "rb") as lines:
            if self.path.stat().st_size < self.offset:  # truncated: a new run
                self.offset = 0
            lines.seek(self.offset)
            for line in lines:
                if not line.endswith(b"\n"):
                    break  # a line still being written: next time
                self.offset += len(line)
                try:
                    self.router.route(envelope(json.loads(line)))
                    routed += 1
                except (ValueError, KeyError) as error:
                    self.log(f"[bus] skipped a malformed event line: {error}")
        return routed


# ---------------------------------------------------------------- SQS: queues and event source mappings


def queue_arn(logical_id: str) -> str:
    return f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{logical_id}"


def create_queues(sqs_client, template: dict) -> dict[str, str]:
    """Every SQS queue of the template, named by its logical id, with its attributes; {logical id: URL}."""
    queues = resources_of_type(template, "AWS::SQS::Queue")
    urls: dict[str, str] = {}

    def create(logical_id: str) -> str:
        if logical_id in urls:
            return urls[logical_id]
        props = queues[logical_id].get("Properties", {})
        attributes = {name: str(props[name]) for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
                      if name in props}
        if "RedrivePolicy" in props:
            redrive = props["RedrivePolicy"]
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            create(target)
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": queue_arn(target),
                                                      "maxReceiveCount": int(redrive["maxReceiveCount"])})
        urls[logical_id] = sqs_client.create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]
        return urls[logical_id]

    for logical_id in queues:
        create(logical_id)
    return urls


@dataclass(frozen=True)
class SqsMapping:
    function: str
    queue: str  # logical id
    batch_size: int


def sqs_mappings(template: dict) -> list[SqsMapping]:
    found = []
    for function, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                props = event["Properties"]
                found.append(SqsMapping(function, props["Queue"]["Fn::GetAtt"][0], int(props.get("BatchSize", 10))))
    return found


def lambda_sqs_event(messages: list[dict], queue: str) -> dict:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody"),
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn(queue), "awsRegion": LOCAL_REGION,
    } for m in messages]}


class SqsEventSource(Poller):
    """Lambda's SQS event source mapping for one function and queue: receive a batch, invoke, delete what
    succeeded (all, or all but the reported `batchItemFailures`). A failed invocation deletes nothing: the
    messages come back after their visibility timeout, and after maxReceiveCount go to the dead-letter queue."""

    def __init__(self, sqs_client, url: str, mapping: SqsMapping, invoke: Callable[[str, dict], Any],
                 log: Callable[[str], None] = print) -> None:
        super().__init__(f"sqs-{mapping.function}", POLL_SECONDS, log)
        self.sqs, self.url, self.mapping, self.invoke = sqs_client, url, mapping, invoke

    def poll_once(self) -> int:
        """One batch; the number of messages received."""
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=min(10, self.mapping.batch_size),
                                            AttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.invoke(self.mapping.function, lambda_sqs_event(messages, self.mapping.queue))
        except Exception as error:  # noqa: BLE001 - the batch comes back after its visibility timeout
            self.log(f"[sqs] {self.mapping.function} failed on {len(messages)} messages: {error}")
            return len(messages)
        kept = {failure["itemIdentifier"] for failure in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in kept]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
        return len(messages)


def local_names(template: dict, queue_urls: dict[str, str], kms_keys: dict[str, str]) -> dict[str, str]:
    """What `!Ref` and `!GetAtt ....Arn` of the local queues and keys resolve to in the template, mapped to the
    local queues' URLs and keys' ARNs: the runtime rewrites functions' environments with it."""
    names = {}
    for logical_id, url in queue_urls.items():
        names[resolve({"Ref": logical_id}, template)] = url
    for logical_id, arn in kms_keys.items():
        names[resolve({"Ref": logical_id}, template)] = arn
        names[resolve({"Fn::GetAtt": [logical_id, "Arn"]}, template)] = arn
    return names


# ---------------------------------------------------------------- the runtime's bus


class LocalBus:
    """What `make run` starts: the template's queues and KMS keys on moto, the router, the SQS event sources.

    `prepare` (before the functions start) creates queues and keys and rewrites the functions' environments to
    name them; `start` (once functions can be invoked) follows the events file and polls the queues.
    """

    # The local runtime's endpoints for the services the bus stands in for, and the webhook URL policy that
    # lets a receiver on this machine (http://127.0.0.1:<port>) subscribe.
    LOCAL_SETTINGS = {"WEBHOOK_URL_POLICY": "public-or-loopback-http"}

    def __init__(self, template: dict, endpoint: str, events_path: Path, log: Callable[[str], None] = print) -> None:
        import boto3

        self.template, self.events_path, self.log = template, events_path, log
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=LOCAL_REGION)
        self.kms = boto3.client("kms", endpoint_url=endpoint, region_name=LOCAL_REGION)
        self.types = TargetTypes()
        self.queue_urls: dict[str, str] = {}
        self.running: list[Any] = []

    @classmethod
    def environment(cls, endpoint: str) -> dict[str, str]:
        """What every function gets besides: the moto endpoint for SQS and KMS, the local URL policy."""
        return {"AWS_ENDPOINT_URL_SQS": endpoint, "AWS_ENDPOINT_URL_KMS": endpoint, **cls.LOCAL_SETTINGS}

    def prepare(self, specs: dict) -> dict:
        """The function specs with their queue URLs and key ARNs made local."""
        from dataclasses import replace

        self.queue_urls = create_queues(self.sqs, self.template)
        keys = {logical_id: self.kms.create_key(Description=f"local {logical_id}")["KeyMetadata"]["Arn"]
                for logical_id in resources_of_type(self.template, "AWS::KMS::Key")}
        names = local_names(self.template, self.queue_urls, keys)
        return {name: replace(spec, environment={k: names.get(v, v) for k, v in spec.environment.items()})
                for name, spec in specs.items()}

    def send(self, queue: str, message: dict) -> None:
        """A message to one of the template's queues, by its logical id."""
        self.sqs.send_message(QueueUrl=self.queue_urls[queue], MessageBody=json.dumps(message))

    def start(self, invoke: Callable[[str, dict], Any], invoke_async: Callable[[str, dict], None]) -> None:
        self.types.register("AWS::SQS::Queue", self.send)
        self.types.register("AWS::Serverless::Function", invoke_async)
        follower = EventsFollower(self.events_path, Router(rules_of(self.template), self.types, self.log), self.log)
        sources = [SqsEventSource(self.sqs, self.queue_urls[m.queue], m, invoke, self.log)
                   for m in sqs_mappings(self.template) if m.queue in self.queue_urls]
        for part in (follower, *sources):
            part.start()
            self.running.append(part)

    def signal_stop(self) -> None:
        """Tell every thread to take nothing more (before the functions end, so none starts a new invocation)."""
        for part in self.running:
            part.stopping.set()

    def stop(self) -> None:
        self.signal_stop()
        deadline = time.monotonic() + STOP_SECONDS  # one budget for all: joined one by one, they would add up
        for part in self.running:
            part.thread.join(timeout=max(0.0, deadline - time.monotonic()))
