"""Subscriptions and the delivery log in the webhooks table (pk, sk):

- a subscription: pk "SUB", sk its webhook id (all of them are one Query: at most WEBHOOK max_subscriptions);
- a delivery: pk "D#<webhook id>", sk its delivery id, which starts with the event's time, so that a Query
  backwards pages the log newest first; the id is derived from the event id, so an event delivered twice to
  the deliverer finds its delivery and is not sent twice. Deliveries carry a TTL (30 days).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from loyalty.domain import errors
from loyalty.store.cursors import page_cursor, page_start

SUBSCRIPTIONS = "SUB"
LOG_DAYS = 30
BATCH_ATTEMPTS = 5  # of a batch read or write whose items DynamoDB left unprocessed (the SDK backs off between)


def _time(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class Subscription:
    webhook_id: str
    url: str
    event_types: tuple[str, ...]
    description: str
    status: str  # active | disabled
    created_at: datetime
    sealed_secret: bytes = field(repr=False)
    last_success_at: datetime | None = None
    failing_since: datetime | None = None
    disabled_at: datetime | None = None

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    delivery_id: str
    event_id: str
    event_type: str
    payload: str  # the event's JSON as sent (events name members by pseudonymous id only)
    status: str  # pending | succeeded | failed
    created_at: datetime
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    first_attempt_at: datetime | None = None


class WebhookStore:
    def __init__(self, client, table: str) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client, self.table = client, table
        self._out, self._in = TypeSerializer(), TypeDeserializer()

    def _item(self, values: dict[str, Any]) -> dict:
        return {name: self._out.serialize(value) for name, value in values.items() if value is not None}

    def _plain(self, item: dict) -> dict[str, Any]:
        return {name: self._in.deserialize(value) for name, value in item.items()}

    # ------------------------------------------------------------ subscriptions

    def _subscription(self, item: dict) -> Subscription:
        v = self._plain(item)
        return Subscription(
            webhook_id=v["sk"], url=v["url"], event_types=tuple(v["event_types"]), description=v.get("description", ""),
            status=v["status"], created_at=_parse(v["created_at"]), sealed_secret=bytes(v["secret"]),
            last_success_at=_parse(v.get("last_success_at")), failing_since=_parse(v.get("failing_since")),
            disabled_at=_parse(v.get("disabled_at")))

    def add(self, subscription: Subscription) -> None:
        self.client.put_item(TableName=self.table, Item=self._item({
            "pk": SUBSCRIPTIONS, "sk": subscription.webhook_id, "url": subscription.url,
            "event_types": list(subscription.event_types), "description": subscription.description,
            "status": subscription.status, "created_at": _time(subscription.created_at),
            "secret": subscription.sealed_secret}), ConditionExpression="attribute_not_exists(pk)")

    def subscriptions(self) -> list[Subscription]:
        items, key = [], None
        while True:
            page = self.client.query(TableName=self.table, KeyConditionExpression="pk = :pk", ConsistentRead=True,
                                     ExpressionAttributeValues={":pk": {"S": SUBSCRIPTIONS}},
                                     **({"ExclusiveStartKey": key} if key else {}))
            items.extend(page["Items"])
            key = page.get("LastEvaluatedKey")
            if not key:
                return [self._subscription(item) for item in items]

    def page(self, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
        start = page_start(cursor, SUBSCRIPTIONS)
        page = self.client.query(TableName=self.table, KeyConditionExpression="pk = :pk", Limit=limit,
                                 ExpressionAttributeValues={":pk": {"S": SUBSCRIPTIONS}},
                                 **({"ExclusiveStartKey": start} if start else {}))
        return [self._subscription(item) for item in page["Items"]], page_cursor(page.get("LastEvaluatedKey"))

    def get(self, webhook_id: str) -> Subscription | None:
        item = self.client.get_item(TableName=self.table, Key=self._item({"pk": SUBSCRIPTIONS, "sk": webhook_id}),
                                    ConsistentRead=True).get("Item")
        return self._subscription(item) if item else None

    def remove(self, webhook_id: str) -> Subscription | None:
        old = self.client.delete_item(TableName=self.table, Key=self._item({"pk": SUBSCRIPTIONS, "sk": webhook_id}),
                                      ReturnValues="ALL_OLD").get("Attributes")
        return self._subscription(old) if old else None

    def record_success(self, webhook_id: str, at: datetime) -> None:
        self._update_subscription(webhook_id, "SET last_success_at = :at REMOVE failing_since", {":at": _time(at)})

    def record_failure(self, webhook_id: str, since: datetime) -> None:
        """The subscription has been failing since `since` (kept if set already)."""
        self._update_subscription(webhook_id, "SET failing_since = if_not_exists(failing_since, :since)",
                                  {":since": _time(since)})

    def disable(self, webhook_id: str, at: datetime) -> bool:
        """Active -> disabled; False if it was not active (another instance disabled it first, or it is gone)."""
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table, Key=self._item({"pk": SUBSCRIPTIONS, "sk": webhook_id}),
                UpdateExpression="SET #s = :disabled, disabled_at = :at", ConditionExpression="#s = :active",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=self._item({":disabled": "disabled", ":active": "active", ":at": _time(at)}))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _update_subscription(self, webhook_id: str, expression: str, values: dict) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(TableName=self.table, Key=self._item({"pk": SUBSCRIPTIONS, "sk": webhook_id}),
                                    UpdateExpression=expression, ConditionExpression="attribute_exists(pk)",
                                    ExpressionAttributeValues=self._item(values))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":  # removed meanwhile: nothing to do
                raise

    # ------------------------------------------------------------ deliveries

    def _delivery(self, item: dict) -> Delivery:
        v = self._plain(item)
        return Delivery(
            webhook_id=v["pk"][2:], delivery_id=v["sk"], event_id=v["event_id"], event_type=v["event_type"],
            payload=v["payload"], status=v["status"], created_at=_parse(v["created_at"]), attempts=int(v.get("attempts", 0)),
            last_status=int(v["last_status"]) if v.get("last_status") is not None else None,
            last_error=v.get("last_error"), next_attempt_at=_parse(v.get("next_attempt_at")),
            first_attempt_at=_parse(v.get("first_attempt_at")))

    def _delivery_item(self, d: Delivery) -> dict:
        return self._item({
            "pk": f"D#{d.webhook_id}", "sk": d.delivery_id, "event_id": d.event_id, "event_type": d.event_type,
            "payload": d.payload, "status": d.status, "created_at": _time(d.created_at), "attempts": d.attempts,
            "last_status": d.last_status, "last_error": d.last_error, "next_attempt_at": _time(d.next_attempt_at),
            "first_attempt_at": _time(d.first_attempt_at),
            "expires_at": int((d.created_at + timedelta(days=LOG_DAYS)).timestamp())})

    def open_delivery(self, delivery: Delivery) -> Delivery:
        """The delivery as stored: `delivery` written if it was not there yet, else the one found."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_item(TableName=self.table, Item=self._delivery_item(delivery),
                                 ConditionExpression="attribute_not_exists(pk)",
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            found = error.response.get("Item") or self.client.get_item(
                TableName=self.table, Key=self._item({"pk": f"D#{delivery.webhook_id}", "sk": delivery.delivery_id}),
                ConsistentRead=True).get("Item")
            return self._delivery(found)
        return delivery

    def deliveries_of(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Delivery]:
        """The deliveries stored under these (webhook id, delivery id) keys, 100 at a time. Eventually consistent
        (half the price): an event's second copy comes from a queue's redelivery, seconds or more later."""
        found: dict[tuple[str, str], Delivery] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            request = {self.table: {"Keys": [self._item({"pk": f"D#{w}", "sk": d}) for w, d in unique[start:start + 100]],
                                    "ConsistentRead": False}}
            for _ in range(BATCH_ATTEMPTS):
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.table, []):
                    delivery = self._delivery(item)
                    found[(delivery.webhook_id, delivery.delivery_id)] = delivery
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise errors.Busy("the delivery log could not be read", cause="UnprocessedKeys")
        return found

    def save_deliveries(self, deliveries: list[Delivery]) -> None:
        """Write many log items, 25 to a BatchWriteItem (what DynamoDB leaves unprocessed is sent again)."""
        for start in range(0, len(deliveries), 25):
            request = {self.table: [{"PutRequest": {"Item": self._delivery_item(d)}} for d in deliveries[start:start + 25]]}
            for _ in range(BATCH_ATTEMPTS):
                request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise errors.Busy("the delivery log could not be written", cause="UnprocessedItems")

    def save_delivery(self, delivery: Delivery) -> None:
        self.client.put_item(TableName=self.table, Item=self._delivery_item(delivery))

    def delivery(self, webhook_id: str, delivery_id: str) -> Delivery | None:
        item = self.client.get_item(TableName=self.table, Key=self._item({"pk": f"D#{webhook_id}", "sk": delivery_id}),
                                    ConsistentRead=True).get("Item")
        return self._delivery(item) if item else None

    def deliveries(self, webhook_id: str, limit: int, cursor: str | None) -> tuple[list[Delivery], str | None]:
        pk = f"D#{webhook_id}"
        start = page_start(cursor, pk)
        page = self.client.query(TableName=self.table, KeyConditionExpression="pk = :pk", Limit=limit,
                                 ScanIndexForward=False, ExpressionAttributeValues={":pk": {"S": pk}},
                                 **({"ExclusiveStartKey": start} if start else {}))
        return [self._delivery(item) for item in page["Items"]], page_cursor(page.get("LastEvaluatedKey"))


__all__ = ["Delivery", "Subscription", "WebhookStore", "replace"]
