"""The message log, the once-per-event claims and the templates, in the messages table (pk, sk); and the few
member fields a message needs, read from the members table.

- a claim: pk "E#<event id>", sk the kind. Written with the log entry in one transaction, only if absent: an
  event delivered twice (or by two instances at once) sends its message once. It names no member.
- a log entry: pk "L#<member id>", sk "<sent at>#<kind>#<event id>" (a Query backwards is newest first): kind,
  channel, category, template version, status, time. Never the address or the body. Erasure deletes them.
- a template: pk "T#<kind>", sk the locale: subject, text, html and its version (1, 2, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from loyalty.store.cursors import page_cursor, page_start
from loyalty.store.keys import member_pk

CLAIM, LOG, TEMPLATE = "E#", "L#", "T#"
SENDING, SENT, FAILED, NOT_SENT = "sending", "sent", "failed", "not_sent"


def _time(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Recipient:
    member_id: str
    email: str | None
    name: str | None
    marketing_opt_in: bool
    status: str  # active | blocked | erased
    locale: str | None = None


@dataclass(frozen=True)
class LogEntry:
    member_id: str
    event_id: str
    kind: str
    category: str  # service | marketing
    channel: str  # email
    template_version: str  # "default" (the program's shipped template) or the stored version's number
    locale: str
    status: str  # sending | sent | failed | not_sent
    at: datetime
    reason: str | None = None  # not_sent: no_consent | weekly_cap | no_address; failed: the provider's code

    @property
    def sort_key(self) -> str:
        return f"{_time(self.at)}#{self.kind}#{self.event_id}"


@dataclass(frozen=True)
class StoredTemplate:
    kind: str
    locale: str
    subject: str
    text: str
    html: str
    version: int
    updated_at: datetime

    def parts(self) -> dict[str, str]:
        return {"subject": self.subject, "text": self.text, "html": self.html}


class MessageStore:
    def __init__(self, client, messages_table: str, members_table: str) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client, self.table, self.members_table = client, messages_table, members_table
        self._out, self._in = TypeSerializer(), TypeDeserializer()

    def _item(self, values: dict[str, Any]) -> dict:
        return {name: self._out.serialize(value) for name, value in values.items() if value is not None}

    def _plain(self, item: dict) -> dict[str, Any]:
        return {name: self._in.deserialize(value) for name, value in item.items()}

    # ------------------------------------------------------------ the member

    def recipient(self, member_id: str) -> Recipient | None:
        item = self.client.get_item(
            TableName=self.members_table, Key={"pk": {"S": member_pk(member_id)}}, ConsistentRead=True,
            ProjectionExpression="member_id, email, #n, marketing_opt_in, #s, locale",
            ExpressionAttributeNames={"#n": "name", "#s": "status"}).get("Item")
        if not item:
            return None
        v = self._plain(item)
        return Recipient(member_id=v["member_id"], email=v.get("email"), name=v.get("name"),
                         marketing_opt_in=bool(v.get("marketing_opt_in", False)), status=v.get("status", "active"),
                         locale=v.get("locale"))

    # ------------------------------------------------------------ claims and the log

    def _log_item(self, entry: LogEntry) -> dict:
        return self._item({"pk": LOG + entry.member_id, "sk": entry.sort_key, "event_id": entry.event_id,
                           "kind": entry.kind, "category": entry.category, "channel": entry.channel,
                           "template_version": entry.template_version, "locale": entry.locale,
                           "status": entry.status, "at": _time(entry.at), "reason": entry.reason})

    def claim(self, entry: LogEntry) -> bool:
        """Write the event's claim and its log entry; False if the event's message of this kind was claimed before."""
        from botocore.exceptions import ClientError

        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                         "Item": self._item({"pk": CLAIM + entry.event_id, "sk": entry.kind, "at": _time(entry.at)})}},
                {"Put": {"TableName": self.table, "Item": self._log_item(entry)}},
            ])
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            if error.response["Error"]["Code"] == "TransactionCanceledException" and reasons and \
                    reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def release(self, entry: LogEntry) -> None:
        """Undo a claim whose sending failed for now (the event comes again and tries again)."""
        self.client.transact_write_items(TransactItems=[
            {"Delete": {"TableName": self.table, "Key": self._item({"pk": CLAIM + entry.event_id, "sk": entry.kind})}},
            {"Delete": {"TableName": self.table, "Key": self._item({"pk": LOG + entry.member_id, "sk": entry.sort_key})}},
        ])

    def finish(self, entry: LogEntry, status: str, reason: str | None = None) -> None:
        """The log entry's outcome; nothing if the entry is gone (the member was erased meanwhile)."""
        from botocore.exceptions import ClientError

        names, values = {"#s": "status"}, {":s": {"S": status}}
        expression = "SET #s = :s"
        if reason:
            expression += ", reason = :r"
            values[":r"] = {"S": reason}
        try:
            self.client.update_item(TableName=self.table, Key=self._item({"pk": LOG + entry.member_id, "sk": entry.sort_key}),
                                    UpdateExpression=expression, ConditionExpression="attribute_exists(pk)",
                                    ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _entry(self, item: dict) -> LogEntry:
        v = self._plain(item)
        return LogEntry(member_id=v["pk"][len(LOG):], event_id=v["event_id"], kind=v["kind"], category=v["category"],
                        channel=v["channel"], template_version=v["template_version"], locale=v["locale"],
                        status=v["status"], at=_parse(v["at"]), reason=v.get("reason"))

    def marketing_sent_since(self, member_id: str, since: datetime) -> list[datetime]:
        """When the member's marketing messages sent (or being sent) since `since` went out."""
        items, key = [], None
        while True:
            page = self.client.query(
                TableName=self.table, KeyConditionExpression="pk = :pk AND sk >= :since",
                FilterExpression="category = :marketing AND #s IN (:sent, :sending)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=self._item({":pk": LOG + member_id, ":since": _time(since), ":marketing": "marketing",
                                                      ":sent": SENT, ":sending": SENDING}),
                ConsistentRead=True, **({"ExclusiveStartKey": key} if key else {}))
            items.extend(page["Items"])
            key = page.get("LastEvaluatedKey")
            if not key:
                return [self._entry(item).at for item in items]

    def log(self, member_id: str, limit: int, cursor: str | None = None) -> tuple[list[LogEntry], str | None]:
        """A page of the member's log, newest first."""
        start = page_start(cursor, LOG + member_id)
        page = self.client.query(TableName=self.table, KeyConditionExpression="pk = :pk", Limit=limit,
                                 ScanIndexForward=False, ExpressionAttributeValues={":pk": {"S": LOG + member_id}},
                                 **({"ExclusiveStartKey": start} if start else {}))
        return [self._entry(item) for item in page["Items"]], page_cursor(page.get("LastEvaluatedKey"))

    def member_log(self, member_id: str, most: int = 1000) -> list[LogEntry]:
        """The member's log, newest first, at most `most` entries (the export)."""
        found, cursor = [], None
        while len(found) < most:
            page, cursor = self.log(member_id, min(100, most - len(found)), cursor)
            found.extend(page)
            if cursor is None:
                break
        return found

    def forget(self, member_id: str) -> int:
        """Delete the member's log (erasure); the claims, which name no member, stay. The number deleted."""
        deleted, key = 0, None
        while True:
            page = self.client.query(TableName=self.table, KeyConditionExpression="pk = :pk", ProjectionExpression="pk, sk",
                                     ExpressionAttributeValues={":pk": {"S": LOG + member_id}},
                                     **({"ExclusiveStartKey": key} if key else {}))
            for start in range(0, len(page["Items"]), 25):
                requests = {self.table: [{"DeleteRequest": {"Key": k}} for k in page["Items"][start:start + 25]]}
                for _ in range(5):
                    left = self.client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
                    if not left:
                        break
                    requests = left
                else:
                    raise RuntimeError("the message log could not be deleted now")  # the event comes again
            deleted += len(page["Items"])
            key = page.get("LastEvaluatedKey")
            if not key:
                return deleted

    # ------------------------------------------------------------ templates

    def _template(self, item: dict) -> StoredTemplate:
        v = self._plain(item)
        return StoredTemplate(kind=v["pk"][len(TEMPLATE):], locale=v["sk"], subject=v["subject"], text=v["text"],
                              html=v["html"], version=int(v["version"]), updated_at=_parse(v["updated_at"]))

    def template(self, kind: str, locale: str) -> StoredTemplate | None:
        item = self.client.get_item(TableName=self.table, Key=self._item({"pk": TEMPLATE + kind, "sk": locale})).get("Item")
        return self._template(item) if item else None

    def templates(self, kinds: list[str]) -> list[StoredTemplate]:
        found = []
        for kind in kinds:
            found.extend(self._template(item) for item in self.client.query(
                TableName=self.table, KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": TEMPLATE + kind}})["Items"])
        return found

    def put_template(self, kind: str, locale: str, parts: dict[str, str], at: datetime) -> StoredTemplate:
        """The template stored as its next version."""
        item = self.client.update_item(
            TableName=self.table, Key=self._item({"pk": TEMPLATE + kind, "sk": locale}),
            UpdateExpression="SET subject = :subject, #t = :text, html = :html, updated_at = :at ADD version :one",
            ExpressionAttributeNames={"#t": "text"},
            ExpressionAttributeValues=self._item({":subject": parts["subject"], ":text": parts["text"], ":html": parts["html"],
                                                  ":at": _time(at), ":one": 1}),
            ReturnValues="ALL_NEW")["Attributes"]
        return self._template(item)
