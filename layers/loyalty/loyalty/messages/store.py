"""The message log, the once-per-event claims and the templates, in the messages table (pk, sk); and the few
member fields a message needs, read from the members table.

- a claim: pk "E#<event id>", sk the kind. Written with the log entry in one transaction, only if absent: an
  event delivered twice (or by two instances at once) sends its message once. It names no member.
- a log entry: pk "L#<member id>", sk "<sent at>#<kind>#<event id>" (a Query backwards is newest first): kind,
  channel, category, template version, status, time. Never the address or the body. Erasure deletes them.
- a template: pk "T#<kind>", sk the locale: subject, text, html and its version (1, 2, ...).
- the member's marketing week: pk "W#<member id>", sk "marketing": when each marketing message of the last 7 days
  went out (`sent`: "<event id>#<kind>" -> time) and a `version`. A marketing message's claim rewrites it in the same
  transaction, only if its version is still the one read: of two messages racing for the last place under the weekly
  cap, one wins and the other reads again and finds the week full. The cap is exact, not "one over in a race".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from loyalty.store.cursors import page_cursor, page_start
from loyalty.store.keys import member_pk

CLAIM, LOG, TEMPLATE, WEEK_OF = "E#", "L#", "T#", "W#"
MARKETING_WEEK = "marketing"
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


@dataclass(frozen=True)
class MarketingWeek:
    """The member's marketing messages that count against the weekly cap, as read (version 0: none ever)."""

    member_id: str
    sent: dict[str, datetime]  # "<event id>#<kind>" -> when it went out
    version: int = 0

    def times(self) -> list[datetime]:
        return list(self.sent.values())


class WeekMoved(Exception):
    """The member's marketing week changed since it was read (another message took a place): read it again."""


def _slot(entry: LogEntry) -> str:
    return f"{entry.event_id}#{entry.kind}"


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

    def marketing_week(self, member_id: str) -> MarketingWeek:
        """The member's marketing week as it stands (a strongly consistent read)."""
        item = self.client.get_item(TableName=self.table, Key=self._item({"pk": WEEK_OF + member_id, "sk": MARKETING_WEEK}),
                                    ConsistentRead=True).get("Item")
        if not item:
            return MarketingWeek(member_id, {})
        v = self._plain(item)
        return MarketingWeek(member_id, {slot: _parse(at) for slot, at in (v.get("sent") or {}).items()}, int(v["version"]))

    def claim(self, entry: LogEntry, week: MarketingWeek | None = None, since: datetime | None = None) -> bool:
        """Write the event's claim and its log entry; False if the event's message of this kind was claimed before.

        `week` (a marketing message being sent): the member's week as read, which gets this message (and loses what
        went out at or before `since`) in the same transaction, only if nobody changed it since; WeekMoved if
        somebody did (read it again and decide again)."""
        from botocore.exceptions import ClientError

        items = [
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": self._item({"pk": CLAIM + entry.event_id, "sk": entry.kind, "at": _time(entry.at)})}},
            {"Put": {"TableName": self.table, "Item": self._log_item(entry)}},
        ]
        if week is not None:
            kept = {slot: _time(at) for slot, at in week.sent.items() if since is None or at > since}
            item = {"pk": WEEK_OF + entry.member_id, "sk": MARKETING_WEEK, "sent": {**kept, _slot(entry): _time(entry.at)},
                    "version": week.version + 1}
            condition = {"ConditionExpression": "attribute_not_exists(pk)"} if week.version == 0 else {
                "ConditionExpression": "version = :read", "ExpressionAttributeValues": {":read": {"N": str(week.version)}}}
            items.append({"Put": {"TableName": self.table, "Item": self._item(item), **condition}})
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons") or []]
            if error.response["Error"]["Code"] != "TransactionCanceledException" or "ConditionalCheckFailed" not in reasons:
                raise
            if reasons[0] == "ConditionalCheckFailed":
                return False
            raise WeekMoved(entry.member_id) from None
        return True

    def release(self, entry: LogEntry) -> None:
        """Undo a claim whose sending failed for now (the event comes again and tries again); a marketing message
        gives its place in the member's week back."""
        self._give_back(entry)
        self.client.transact_write_items(TransactItems=[
            {"Delete": {"TableName": self.table, "Key": self._item({"pk": CLAIM + entry.event_id, "sk": entry.kind})}},
            {"Delete": {"TableName": self.table, "Key": self._item({"pk": LOG + entry.member_id, "sk": entry.sort_key})}},
        ])

    def _give_back(self, entry: LogEntry) -> None:
        """A marketing message that did not go out gives its place in the member's week back (if it holds one)."""
        from botocore.exceptions import ClientError

        if entry.category != "marketing":
            return
        try:
            self.client.update_item(
                TableName=self.table, Key=self._item({"pk": WEEK_OF + entry.member_id, "sk": MARKETING_WEEK}),
                UpdateExpression="REMOVE #sent.#slot ADD version :one", ConditionExpression="attribute_exists(#sent.#slot)",
                ExpressionAttributeNames={"#sent": "sent", "#slot": _slot(entry)}, ExpressionAttributeValues={":one": {"N": "1"}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def finish(self, entry: LogEntry, status: str, reason: str | None = None) -> None:
        """The log entry's outcome; nothing if the entry is gone (the member was erased meanwhile). A marketing
        message refused for good gives its place in the week back (it never reached the member)."""
        from botocore.exceptions import ClientError

        if status == FAILED:
            self._give_back(entry)

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
        """Delete the member's log and marketing week (erasure); the claims, which name no member, stay. The number of
        log entries deleted."""
        self.client.delete_item(TableName=self.table, Key=self._item({"pk": WEEK_OF + member_id, "sk": MARKETING_WEEK}))
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
