"""Webhook use cases on moto (the template's WebhooksTable, a KMS key), with a FixedClock, a queue that records
what it is asked, and a receiver that verifies each signature as a real receiver would."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import boto3
import pytest
from moto import mock_aws

from loyalty.clock import FixedClock
from loyalty.webhooks.addresses import AddressPolicy
from loyalty.webhooks.delivery import Outcome
from loyalty.webhooks.secrets import KmsSecretBox
from loyalty.webhooks.signing import HEADER, verify
from loyalty.webhooks.store import WebhookStore
from loyalty.webhooks.usecases import Webhooks
from loyalty_local.template import load_template, table_definitions

REGION = "us-east-1"
START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
PUBLIC = {"hooks.example.com": ["93.184.215.14"]}


@dataclass
class RecordingQueue:
    sent: list[tuple[dict, int]] = field(default_factory=list)
    postponed: list[tuple[str, int]] = field(default_factory=list)

    def send(self, message: dict, delay_seconds: int = 0) -> None:
        self.sent.append((message, delay_seconds))

    def postpone(self, receipt_handle: str, seconds: int) -> None:
        self.postponed.append((receipt_handle, seconds))


@dataclass
class Receiver:
    """Answers from a script of statuses (then 200); verifies every request's signature with `secrets`."""

    clock: FixedClock
    script: list[int] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # url -> secret
    received: list[dict] = field(default_factory=list)
    targets: list = field(default_factory=list)

    def post(self, target, body: bytes, headers: dict[str, str]) -> Outcome:
        url = f"https://{target.host}{target.path}"
        verify(self.secrets[url], body, headers[HEADER], int(self.clock.now().timestamp()))
        self.targets.append(target)
        status = self.script.pop(0) if self.script else 200
        self.received.append({"status": status, "event_id": headers["Loyalty-Event-Id"],
                              "event_type": headers["Loyalty-Event-Type"], "body": json.loads(body)})
        return Outcome(status, None if 200 <= status < 300 else f"HTTP {status}")


@dataclass
class World:
    webhooks: Webhooks
    clock: FixedClock
    queue: RecordingQueue
    receiver: Receiver
    published: list
    dynamodb: object
    answers: dict

    def subscribe(self, url: str = "https://hooks.example.com/in", types=("*",)) -> str:
        subscription, secret = self.webhooks.subscribe(url, list(types), "test")
        self.receiver.secrets[url] = secret
        return subscription.webhook_id


def event(event_type: str = "PointsEarned", event_id: str | None = None, at: datetime = START) -> dict:
    event_id = event_id or f"evt-{time.monotonic_ns()}"
    return {"version": "0", "id": "eb-id", "detail-type": event_type, "source": "loyalty",
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {"event_id": event_id, "member_id": "m1", "points": 10}}


@pytest.fixture
def world():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definitions(load_template())["WebhooksTable"])
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key()["KeyMetadata"]["Arn"]
        clock = FixedClock(START)
        queue, receiver, published = RecordingQueue(), Receiver(clock), []
        answers = dict(PUBLIC)
        webhooks = Webhooks(store=WebhookStore(dynamodb, "WebhooksTable"), box=KmsSecretBox(kms, key), clock=clock,
                            policy=AddressPolicy.named("public"), resolver=lambda host, port: answers[host],
                            queue=queue, sender=receiver, publish=lambda t, d: published.append((t, d)),
                            signing_clock=clock)
        yield World(webhooks, clock, queue, receiver, published, dynamodb, answers)
