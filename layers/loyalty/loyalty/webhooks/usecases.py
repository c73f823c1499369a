"""Webhook use cases. Collaborators are given: the store, the secret box, the clock, the URL policy and its
resolver, the delivery queue, the HTTP sender and the event publisher (for WebhookDisabled).

Retries: a failed delivery waits in the delivery queue, either as a new message sent with a delay (after the
first attempt from the event's message) or as the same message made invisible again (ChangeMessageVisibility,
at most 12 h a step). Backoff doubles from 30 s; attempts stop 24 h after the first (`failed`); a subscription
failing for 24 h without one success is `disabled` and announced by a WebhookDisabled event.
"""

from __future__ import annotations

import json
import secrets as _random
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from loyalty.clock import SystemClock
from loyalty.domain import errors
from loyalty.webhooks import signing
from loyalty.webhooks.addresses import AddressPolicy, Resolver, UrlNotAllowed
from loyalty.webhooks.delivery import Outcome
from loyalty.webhooks.secrets import SecretBox
from loyalty.webhooks.store import Delivery, Subscription, WebhookStore

FIRST_BACKOFF_SECONDS = 30
MAX_STEP_SECONDS = 12 * 3600  # SQS's longest visibility timeout
GIVE_UP_AFTER = timedelta(hours=24)
DISABLE_AFTER = timedelta(hours=24)
MAX_QUEUE_DELAY_SECONDS = 900  # SQS's longest DelaySeconds
TEST_EVENT = "WebhookTest"
DISABLED_EVENT = "WebhookDisabled"
DELIVERIES = uuid.UUID("0b6a3f0e-8e0b-4c59-9d5e-7f3c1f6d2a10")  # the namespace of delivery ids
USER_AGENT = "Loyalty-Webhooks/1"
PARALLEL_DELIVERIES = 10


class WebhookNotFound(errors.DomainError):
    status, code = 404, "WEBHOOK_NOT_FOUND"


class DeliveryNotFound(errors.DomainError):
    status, code = 404, "DELIVERY_NOT_FOUND"


class WebhookUrlNotAllowed(errors.DomainError):
    status, code = 422, "WEBHOOK_URL_NOT_ALLOWED"


class WebhookLimitReached(errors.DomainError):
    status, code = 409, "WEBHOOK_LIMIT_REACHED"


class DeliveryQueue(Protocol):
    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None: ...

    def postpone(self, receipt_handle: str, seconds: int) -> None: ...


class Sender(Protocol):
    def post(self, target, body: bytes, headers: dict[str, str]) -> Outcome: ...


Publish = Callable[[str, dict[str, Any]], None]  # (detail type, detail)


def backoff_seconds(attempts: int) -> int:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, ... at most 12 h."""
    return min(FIRST_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_STEP_SECONDS)


def delivery_id(webhook_id: str, event_id: str, event_time: datetime) -> str:
    """Sortable by the event's time (the log pages newest first), unique per subscription and event."""
    stamp = event_time.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid5(DELIVERIES, f'{webhook_id}/{event_id}').hex[:16]}"


def _time(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Step:
    """What became of one attempt: done, or try again in `retry_in` seconds."""

    delivery: Delivery
    retry_in: int | None = None


@dataclass
class Webhooks:
    store: WebhookStore
    box: SecretBox
    clock: Any
    policy: AddressPolicy
    resolver: Resolver
    queue: DeliveryQueue
    sender: Sender | None = None
    publish: Publish | None = None
    max_subscriptions: int = 100
    # The signature's `t` is the real time, whatever the business clock says: receivers check it against theirs.
    signing_clock: Any = field(default_factory=SystemClock)
    _recorded: dict[str, datetime] = field(default_factory=dict, repr=False)  # successes this instance wrote
    _marked: set[str] = field(default_factory=set, repr=False)  # subscriptions this instance marked failing

    # ------------------------------------------------------------ administration

    def subscribe(self, url: str, event_types: list[str], description: str) -> tuple[Subscription, str]:
        """The new subscription and its signing secret (the only time the secret is told)."""
        self._check(url)
        if len(self.store.subscriptions()) >= self.max_subscriptions:
            raise WebhookLimitReached(f"at most {self.max_subscriptions} subscriptions; remove one first")
        webhook_id = "wh_" + _random.token_hex(8)
        secret = signing.new_secret()
        subscription = Subscription(webhook_id=webhook_id, url=url, event_types=tuple(dict.fromkeys(event_types)),
                                    description=description, status="active", created_at=self.clock.now(),
                                    sealed_secret=self.box.seal(webhook_id, secret))
        self.store.add(subscription)
        return subscription, secret

    def _check(self, url: str):
        try:
            return self.policy.check(url, self.resolver)
        except UrlNotAllowed as refused:
            raise WebhookUrlNotAllowed(str(refused)) from None

    def get(self, webhook_id: str) -> Subscription:
        found = self.store.get(webhook_id)
        if found is None:
            raise WebhookNotFound(f"no webhook {webhook_id}")
        return found

    def remove(self, webhook_id: str) -> Subscription:
        removed = self.store.remove(webhook_id)
        if removed is None:
            raise WebhookNotFound(f"no webhook {webhook_id}")
        return removed

    def send_test(self, webhook_id: str) -> Delivery:
        """Queue a WebhookTest event for this subscription alone (delivered by the deliverer, not here)."""
        subscription = self.get(webhook_id)
        now = self.clock.now()
        event_id = f"test-{uuid.uuid4()}"
        payload = {"version": "0", "id": event_id, "detail-type": TEST_EVENT, "source": "loyalty", "time": _time(now),
                   "detail": {"event_id": event_id, "webhook_id": webhook_id, "at": _time(now)}}
        delivery = self.store.open_delivery(self._new_delivery(subscription.webhook_id, payload, now))
        self.queue.send({"webhook_id": webhook_id, "delivery_id": delivery.delivery_id})
        return delivery

    def retry(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Deliver one again: pending from now, with a fresh 24 h (its attempts so far stay counted)."""
        self.get(webhook_id)
        found = self.store.delivery(webhook_id, delivery_id)
        if found is None:
            raise DeliveryNotFound(f"no delivery {delivery_id} of webhook {webhook_id}")
        again = replace(found, status="pending", next_attempt_at=self.clock.now(), first_attempt_at=None)
        self.store.save_delivery(again)
        self.queue.send({"webhook_id": webhook_id, "delivery_id": delivery_id})
        return again

    # ------------------------------------------------------------ delivery

    def _new_delivery(self, webhook_id: str, envelope: dict, now: datetime) -> Delivery:
        event_id = str(envelope["detail"].get("event_id") or envelope.get("id"))
        event_time = datetime.fromisoformat(envelope["time"].replace("Z", "+00:00")) if envelope.get("time") else now
        return Delivery(webhook_id=webhook_id, delivery_id=delivery_id(webhook_id, event_id, event_time),
                        event_id=event_id, event_type=envelope["detail-type"],
                        payload=json.dumps(envelope, separators=(",", ":")), status="pending", created_at=now,
                        next_attempt_at=now)

    def handle_batch(self, records: Iterable[dict]) -> list[str]:
        """An SQS batch: each record is an event (EventBridge's envelope) or a delivery to try again. The message
        ids to leave in the queue (ReportBatchItemFailures): their visibility has been set to the backoff."""
        failures, envelopes = [], []
        for record in records:
            message = json.loads(record["body"])
            if "delivery_id" in message:
                step = self.attempt_queued(message["webhook_id"], message["delivery_id"])
                if step is not None and step.retry_in is not None:
                    self.queue.postpone(record["receiptHandle"], step.retry_in)
                    failures.append(record["messageId"])
            else:
                envelopes.append(message)
        if envelopes:
            # Read for every batch, not cached: an event published after a subscription was created reaches it
            # (a warm instance's cached list once missed a subscription made seconds before the event).
            self.fan_out_batch(envelopes, self.store.subscriptions())
        return failures

    def fan_out(self, envelope: dict, subscriptions: list[Subscription]) -> list[Step]:
        return self.fan_out_batch([envelope], subscriptions)

    def fan_out_batch(self, envelopes: list[dict], subscriptions: list[Subscription]) -> list[Step]:
        """Events to every active subscription that wants them, in parallel. The log is read and written in
        batches (one BatchGetItem finds what an earlier copy of an event already delivered; BatchWriteItems
        record the attempts); failures are queued for a retry."""
        now = self.clock.now()
        pairs: dict[tuple[str, str], tuple[Subscription, Delivery]] = {}
        for envelope in envelopes:
            for s in subscriptions:
                if s.status == "active" and s.wants(envelope.get("detail-type", "")):
                    delivery = self._new_delivery(s.webhook_id, envelope, now)
                    pairs.setdefault((s.webhook_id, delivery.delivery_id), (s, delivery))
        found = self.store.deliveries_of(list(pairs))
        todo = [(s, found.get(key, d)) for key, (s, d) in pairs.items()
                if key not in found or (found[key].status == "pending" and not found[key].attempts)]  # not under way
        if len(todo) <= 1:
            steps = [self._attempted(s, d) for s, d in todo]
        else:
            with ThreadPoolExecutor(min(PARALLEL_DELIVERIES, len(todo))) as pool:
                steps = list(pool.map(lambda pair: self._attempted(*pair), todo))
        self.store.save_deliveries([step.delivery for step in steps])
        for step in steps:
            if step.retry_in is not None:
                self.queue.send({"webhook_id": step.delivery.webhook_id, "delivery_id": step.delivery.delivery_id},
                                min(step.retry_in, MAX_QUEUE_DELAY_SECONDS))
        return steps

    def attempt_queued(self, webhook_id: str, delivery_id: str) -> Step | None:
        """A retry message: attempt if it is due, postpone if not; None when there is nothing left to do."""
        delivery = self.store.delivery(webhook_id, delivery_id)
        if delivery is None or delivery.status != "pending":
            return None
        subscription = self.store.get(webhook_id)
        if subscription is None or subscription.status != "active":
            reason = "the subscription was removed" if subscription is None else "the subscription is disabled"
            self.store.save_delivery(replace(delivery, status="failed", last_error=reason, next_attempt_at=None))
            return None
        now = self.clock.now()
        if delivery.next_attempt_at and delivery.next_attempt_at > now:  # the queue's delay is shorter than the backoff
            return Step(delivery, max(1, min(MAX_STEP_SECONDS, int((delivery.next_attempt_at - now).total_seconds()) + 1)))
        return self.attempt(subscription, delivery)

    def attempt(self, subscription: Subscription, delivery: Delivery) -> Step:
        """One attempt, recorded: the log, the subscription's health, and whether and when to try again."""
        step = self._attempted(subscription, delivery)
        self.store.save_delivery(step.delivery)
        return step

    def _attempted(self, subscription: Subscription, delivery: Delivery) -> Step:
        """One attempt and the subscription's health recorded; the delivery as it now is (to be saved)."""
        outcome = self._post(subscription, delivery)
        now = self.clock.now()
        first = delivery.first_attempt_at or now
        tried = replace(delivery, attempts=delivery.attempts + 1, last_status=outcome.status, last_error=outcome.error,
                        first_attempt_at=first)
        if outcome.succeeded:
            done = replace(tried, status="succeeded", next_attempt_at=None)
            known = max(filter(None, (subscription.last_success_at, self._recorded.get(subscription.webhook_id))), default=None)
            failing = subscription.failing_since is not None or subscription.webhook_id in self._marked
            if failing or known is None or now - known > timedelta(hours=1):  # kept to the hour: a write saved per event
                self.store.record_success(subscription.webhook_id, now)
                self._recorded[subscription.webhook_id] = now
                self._marked.discard(subscription.webhook_id)
            return Step(done)
        self._failing(subscription, now)
        if now - first >= GIVE_UP_AFTER:
            return Step(replace(tried, status="failed", next_attempt_at=None))
        wait = min(backoff_seconds(tried.attempts), max(1, int((first + GIVE_UP_AFTER - now).total_seconds())))
        return Step(replace(tried, next_attempt_at=now + timedelta(seconds=wait)), wait)

    def _post(self, subscription: Subscription, delivery: Delivery) -> Outcome:
        try:
            target = self.policy.check(subscription.url, self.resolver)  # again at every delivery: DNS may have changed
        except UrlNotAllowed as refused:
            return Outcome(None, f"address not allowed: {refused}")
        body = delivery.payload.encode()
        secret = self.box.open(subscription.webhook_id, subscription.sealed_secret)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "Loyalty-Event-Id": delivery.event_id, "Loyalty-Event-Type": delivery.event_type,
                   signing.HEADER: signing.sign(secret, body, int(self.signing_clock.now().timestamp()))}
        return self.sender.post(target, body, headers)

    def _failing(self, subscription: Subscription, now: datetime) -> None:
        since = subscription.failing_since
        if since is None:
            self.store.record_failure(subscription.webhook_id, now)
            self._marked.add(subscription.webhook_id)
            fresh = self.store.get(subscription.webhook_id)  # another delivery may have set it earlier
            since = fresh.failing_since if fresh and fresh.failing_since else now
        if now - since < DISABLE_AFTER:
            return
        fresh = self.store.get(subscription.webhook_id)  # decide on what is stored, not on a cached copy
        if fresh is None or fresh.failing_since is None or fresh.status != "active" or now - fresh.failing_since < DISABLE_AFTER:
            return
        since = fresh.failing_since
        if fresh.last_success_at is None or fresh.last_success_at < since:
            if self.store.disable(subscription.webhook_id, now) and self.publish is not None:
                self.publish(DISABLED_EVENT, {"event_id": f"{DISABLED_EVENT}:{subscription.webhook_id}:{_time(since)}",
                                              "webhook_id": subscription.webhook_id, "failing_since": _time(since),
                                              "disabled_at": _time(now)})
