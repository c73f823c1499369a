"""Delivery, retries and auto-disable, driven by the business clock: each retry happens when the queue would
offer it again (the clock moved by the backoff the use case asked for), nothing sleeps."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from loyalty.clock import SystemClock
from loyalty.webhooks.delivery import Outcome
from loyalty.webhooks.store import SUBSCRIPTIONS
from loyalty.webhooks.usecases import (
    MAX_QUEUE_DELAY_SECONDS, MAX_STEP_SECONDS, DeliveryNotFound, WebhookNotFound, WebhookUrlNotAllowed,
)
from tests.webhooks.conftest import START, event


def retry_until_done(world, webhook_id: str, delivery_id: str, limit: int = 100) -> list[int]:
    """Play the queue: the first retry message arrives after its delay, each later one when its visibility
    (the postponement asked for) ends. The waits the use case asked for, in order."""
    waits = []
    message, delay = world.queue.sent[-1]
    assert message == {"webhook_id": webhook_id, "delivery_id": delivery_id}
    world.clock.advance(timedelta(seconds=delay))
    waits.append(delay)
    for _ in range(limit):
        record = {"messageId": "m", "receiptHandle": f"r{len(waits)}", "body": json.dumps(message)}
        before = len(world.queue.postponed)
        kept = world.webhooks.handle_batch([record])
        if not kept:
            return waits
        assert len(world.queue.postponed) == before + 1
        _, seconds = world.queue.postponed[-1]
        assert 1 <= seconds <= MAX_STEP_SECONDS
        world.clock.advance(timedelta(seconds=seconds))
        waits.append(seconds)
    raise AssertionError("never done")


def delivery_of(world, webhook_id: str):
    items, _ = world.webhooks.store.deliveries(webhook_id, 100, None)
    assert len(items) == 1
    return items[0]


@pytest.mark.parametrize("failures", [0, 1, 3, 6])
def test_a_receiver_failing_n_times_then_succeeding_gets_the_event_once(world, failures):
    webhook_id = world.subscribe()
    world.receiver.script = [500] * failures
    world.webhooks.fan_out(event("PointsEarned", "e-1"), world.webhooks.store.subscriptions())
    if failures:
        waits = retry_until_done(world, webhook_id, delivery_of(world, webhook_id).delivery_id)
        # 30 s, then doubling: the first wait is the queue's delay, later ones the visibility timeouts
        assert sum(waits) >= sum(30 * 2 ** i for i in range(failures))
    successes = [r for r in world.receiver.received if r["status"] == 200]
    assert len(successes) == 1 and successes[0]["event_id"] == "e-1"
    assert len(world.receiver.received) == failures + 1
    delivery = delivery_of(world, webhook_id)
    assert (delivery.status, delivery.attempts, delivery.last_status, delivery.last_error) == ("succeeded", failures + 1, 200, None)
    subscription = world.webhooks.get(webhook_id)
    assert subscription.failing_since is None and subscription.last_success_at is not None


def test_backoff_doubles_from_30_seconds(world):
    webhook_id = world.subscribe()
    world.receiver.script = [503] * 5
    world.webhooks.fan_out(event(), world.webhooks.store.subscriptions())
    assert world.queue.sent[-1][1] == 30
    retry_until_done(world, webhook_id, delivery_of(world, webhook_id).delivery_id)
    assert [seconds for _, seconds in world.queue.postponed] == [60, 120, 240, 480]


def test_a_receiver_that_never_succeeds_ends_failed_and_disabled_after_24_hours(world):
    webhook_id = world.subscribe()
    world.receiver.script = [500] * 1000
    world.webhooks.fan_out(event(), world.webhooks.store.subscriptions())
    delivery_id = delivery_of(world, webhook_id).delivery_id
    # the first delay may be shorter than the backoff (SQS's 15 min cap): the message then only postpones itself
    waits = retry_until_done(world, webhook_id, delivery_id)
    elapsed = world.clock.now() - START
    assert elapsed == timedelta(hours=24)  # the last attempt is at 24 h exactly, never later
    delivery = delivery_of(world, webhook_id)
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert delivery.attempts == len(world.receiver.received)
    # 30 s doubling to 12 h: attempts at 0, 30 s, 1.5 min, ... until 24 h: counted independently here
    moments, t, step = [0], 0, 30
    while t + step < 86400:
        t += min(step, 43200)
        moments.append(t)
        step *= 2
    moments.append(86400)
    assert delivery.attempts == len(moments)
    assert all(w <= max(MAX_STEP_SECONDS, MAX_QUEUE_DELAY_SECONDS) for w in waits)
    subscription = world.webhooks.get(webhook_id)
    assert subscription.status == "disabled" and subscription.disabled_at == START + timedelta(hours=24)
    assert [t for t, _ in world.published] == ["WebhookDisabled"]
    assert world.published[0][1]["webhook_id"] == webhook_id
    # disabled: a new event is not delivered, and a message still queued for it ends failed
    world.webhooks.fan_out(event(event_id="e-later"), world.webhooks.store.subscriptions())
    assert "e-later" not in {r["event_id"] for r in world.receiver.received}


def test_a_subscription_is_not_disabled_while_another_delivery_succeeds(world):
    webhook_id = world.subscribe()
    world.receiver.script = [500]
    world.webhooks.fan_out(event(event_id="a"), world.webhooks.store.subscriptions())
    world.clock.advance(timedelta(hours=23))
    world.webhooks.fan_out(event(event_id="b"), world.webhooks.store.subscriptions())  # succeeds: health restored
    world.receiver.script = [500]
    world.clock.advance(timedelta(hours=2))
    world.webhooks.fan_out(event(event_id="c"), world.webhooks.store.subscriptions())
    assert world.webhooks.get(webhook_id).status == "active" and not world.published


def test_an_event_delivered_twice_is_sent_once(world):
    world.subscribe()
    twice = event(event_id="dup")
    for _ in range(2):
        world.webhooks.handle_batch([{"messageId": "x", "receiptHandle": "r", "body": json.dumps(twice)}])
    assert [r["event_id"] for r in world.receiver.received] == ["dup"]


def test_an_event_after_a_new_subscription_reaches_it_on_a_warm_deliverer(world):
    """The deliverer has just handled a batch while nobody subscribed; a subscription is made and the next event
    reaches it at once. A list of subscriptions cached for 10 s lost this event (CI, tests/local, 2026-12-07)."""
    def batch(event_id: str) -> None:
        world.webhooks.handle_batch([{"messageId": event_id, "receiptHandle": "r", "body": json.dumps(event(event_id=event_id))}])

    batch("before")
    world.subscribe()
    batch("after")
    assert [r["event_id"] for r in world.receiver.received] == ["after"]


def test_events_go_to_the_subscriptions_that_want_them(world):
    everything = world.subscribe("https://hooks.example.com/all")
    tiers = world.subscribe("https://hooks.example.com/tiers", ("TierChanged",))
    world.webhooks.fan_out(event("PointsEarned", "p"), world.webhooks.store.subscriptions())
    world.webhooks.fan_out(event("TierChanged", "t"), world.webhooks.store.subscriptions())
    got = sorted((r["body"]["detail"]["event_id"], t.path) for r, t in zip(world.receiver.received, world.receiver.targets, strict=True))
    assert got == [("p", "/all"), ("t", "/all"), ("t", "/tiers")]
    assert {everything, tiers} == {s.webhook_id for s in world.webhooks.store.subscriptions()}


def test_dns_rebinding_is_caught_at_delivery(world):
    webhook_id = world.subscribe()
    world.answers["hooks.example.com"] = ["169.254.169.254"]  # the name now points at the metadata service
    world.webhooks.fan_out(event(event_id="r"), world.webhooks.store.subscriptions())
    assert world.receiver.received == []
    delivery = delivery_of(world, webhook_id)
    assert delivery.status == "pending" and "not allowed" in delivery.last_error and delivery.last_status is None


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://10.0.0.1/", "http://[::1]/", "https://internal.example.com/"])
def test_subscribing_a_url_that_is_not_public_is_refused_and_writes_nothing(world, url):
    world.answers["internal.example.com"] = ["10.9.8.7"]
    with pytest.raises(WebhookUrlNotAllowed):
        world.webhooks.subscribe(url, ["*"], "")
    assert world.dynamodb.scan(TableName="WebhooksTable")["Count"] == 0


def test_the_secret_is_stored_sealed_and_never_read_back(world):
    subscription, secret = world.webhooks.subscribe("https://hooks.example.com/in", ["*"], "")
    item = world.dynamodb.get_item(TableName="WebhooksTable", Key={"pk": {"S": SUBSCRIPTIONS}, "sk": {"S": subscription.webhook_id}})["Item"]
    assert secret.encode() not in item["secret"]["B"] and secret not in json.dumps({k: str(v) for k, v in item.items()})
    assert world.webhooks.box.open(subscription.webhook_id, item["secret"]["B"]) == secret


def test_a_test_event_and_a_manual_retry_are_queued_not_sent(world):
    webhook_id = world.subscribe()
    queued = world.webhooks.send_test(webhook_id)
    assert world.receiver.received == [] and queued.event_type == "WebhookTest"
    message, _ = world.queue.sent[-1]
    world.webhooks.handle_batch([{"messageId": "m", "receiptHandle": "r", "body": json.dumps(message)}])
    assert [r["event_type"] for r in world.receiver.received] == ["WebhookTest"]
    again = world.webhooks.retry(webhook_id, queued.delivery_id)
    assert again.status == "pending" and len(world.receiver.received) == 1
    world.webhooks.handle_batch([{"messageId": "m", "receiptHandle": "r", "body": json.dumps(world.queue.sent[-1][0])}])
    assert len(world.receiver.received) == 2
    assert world.webhooks.store.delivery(webhook_id, queued.delivery_id).attempts == 2
    with pytest.raises(DeliveryNotFound):
        world.webhooks.retry(webhook_id, "20261102T090000Z-0000000000000000")
    with pytest.raises(WebhookNotFound):
        world.webhooks.send_test("wh_0000000000000000")


def test_the_log_pages_newest_first(world):
    webhook_id = world.subscribe()
    for hour in range(5):
        world.webhooks.fan_out(event(event_id=f"e{hour}", at=START + timedelta(hours=hour)), world.webhooks.store.subscriptions())
    first, cursor = world.webhooks.store.deliveries(webhook_id, 2, None)
    second, cursor2 = world.webhooks.store.deliveries(webhook_id, 2, cursor)
    third, _ = world.webhooks.store.deliveries(webhook_id, 2, cursor2)
    assert [d.event_id for d in first + second + third] == ["e4", "e3", "e2", "e1", "e0"]


def test_a_removed_subscription_ends_its_pending_deliveries(world):
    webhook_id = world.subscribe()
    world.receiver.script = [500]
    world.webhooks.fan_out(event(event_id="x"), world.webhooks.store.subscriptions())
    world.webhooks.remove(webhook_id)
    world.clock.advance(timedelta(minutes=1))
    kept = world.webhooks.handle_batch([{"messageId": "m", "receiptHandle": "r", "body": json.dumps(world.queue.sent[-1][0])}])
    assert kept == [] and len(world.receiver.received) == 1
    assert world.webhooks.store.delivery(webhook_id, world.queue.sent[-1][0]["delivery_id"]).status == "failed"


def test_the_signature_carries_the_real_time_even_when_the_business_clock_is_moved(world):
    """Receivers check `t` against their own clock: a business clock moved a year ahead must not break them."""
    world.webhooks.signing_clock = SystemClock()
    world.clock.advance(timedelta(days=365))
    seen = []

    def receive(target, body, headers):
        seen.append(headers["Loyalty-Signature"])
        return Outcome(200, None)

    world.receiver.post = receive
    world.subscribe()
    world.webhooks.fan_out(event(), world.webhooks.store.subscriptions())
    (header,) = seen
    assert abs(int(header.split(",")[0].removeprefix("t=")) - time.time()) < 60
