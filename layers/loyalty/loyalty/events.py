"""Domain events for notification services, derived from the tables' streams after the fact.

Nothing on a request path waits for them: the publisher reads the members, ledger and catalog streams
and puts events on the program's EventBridge bus. Streams deliver at least once, so each event
carries an `event_id` built from its stream record: consumers drop duplicates by it.
Events name members by their pseudonymous id only, never by e-mail, name or phone (a notification
service reads those from the member view, which answers 404 once the member is erased).
Schemas: docs/events.md.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from loyalty.domain.calendar import end_of_month
from loyalty.domain.membership import PROFILE_FIELDS
from loyalty.core.platform import EventSink
from loyalty.settings import PublisherSettings

SOURCE = "loyalty"
PUT_EVENTS_LIMIT = 10
PUT_EVENTS_ATTEMPTS = 3  # tries of the entries EventBridge refused in a PutEvents that accepted the others
LEDGER_EVENTS = uuid.UUID("6f1d3c2e-5b8a-4c1e-9f3a-2d7e8b9c0a41")  # the namespace of ledger events' ids


@dataclass(frozen=True)
class DomainEvent:
    detail_type: str
    detail: dict[str, Any]


def _plain(image: dict[str, Any]) -> dict[str, Any]:
    """An image as JSON values (whole numbers as ints)."""
    return json.loads(json.dumps(image, default=lambda v: int(v) if isinstance(v, Decimal) and v == int(v) else str(v)))


def from_record(record: DynamoDBRecord) -> list[DomainEvent]:
    """The domain events one stream record (a powertools DynamoDBRecord, images deserialized) stands for."""
    change = record.dynamodb
    new, old = _plain(change.new_image if change else {}), _plain(change.old_image if change else {})
    base = {"event_id": record.event_id}
    kind = record.event_name.name if record.event_name else ""
    if "entry_key" in new:
        # Ledger entries are the activity's (they carry created_seq); consent records beside them announce nothing.
        # An entry is written once and never changes: its event's id derives from its key, so an event re-derived
        # from the ledger by a replay (ops/replay_events.py) has the id the stream's had, and consumers drop it.
        return _ledger_events(new, {"event_id": ledger_event_id(new)}) if kind == "INSERT" and "created_seq" in new else []
    if new.get("pk", "").startswith("M#"):
        return _member_events(kind, new, old, base)
    if new.get("pk", "").startswith("V#"):
        return _voucher_events(new, old, base)
    if new.get("pk") == "CAMPAIGN":
        return _campaign_events(new, old, base)
    if new.get("pk") == "PROGRAM" and kind == "INSERT":
        return _program_version_events(new, base)
    return []


def _program_version_events(new: dict, base: dict) -> list[DomainEvent]:
    """A program version published (written once, never changed). Version 1 is the seed the first publish writes:
    the program as deployed, announced like any other."""
    return [DomainEvent("ProgramVersionPublished", {
        **base, "version": new["version"], "effective_from": _timestamp(new.get("effective_from")),
        "published_at": _timestamp(new.get("published_at")), "published_by": new.get("published_by"),
        "note": new.get("note"),
    })]


def new_earn_entry(record: DynamoDBRecord) -> dict[str, Any] | None:
    """The image of a ledger earn entry a stream record inserts (plain values), or None."""
    change = record.dynamodb
    kind = record.event_name.name if record.event_name else ""
    new = _plain(change.new_image) if change and kind == "INSERT" else {}
    return new if "entry_key" in new and "created_seq" in new and new.get("type") == "earn" else None


def _campaign_events(new: dict, old: dict, base: dict) -> list[DomainEvent]:
    """A campaign's status change (catalog table stream): activated, or ended after having been active."""
    status, before = new.get("status"), old.get("status")
    if status == before:
        return []
    document = json.loads(new["document"])
    detail = {**base, "campaign_id": new["sk"], "name": document["name"], "starts_at": document.get("starts_at"),
              "ends_at": document.get("ends_at")}
    if status == "active":
        return [DomainEvent("CampaignActivated", {**detail, "at": _timestamp(new.get("activated_at"))})]
    if status == "ended" and before == "active":  # a draft that is ended never applied: nothing to announce
        return [DomainEvent("CampaignEnded", {**detail, "at": _timestamp(new.get("ended_at"))})]
    return []


def _voucher_events(new: dict, old: dict, base: dict) -> list[DomainEvent]:
    if new.get("status") != "used" or old.get("status") == "used":
        return []
    return [DomainEvent("VoucherUsed", {
        **base, **{name: new.get(name) for name in ("voucher_code", "member_id", "redemption_id", "reward_id",
                                                     "value_minor", "store_id")},
        "used_at": _timestamp(new.get("used_at")),
    })]


def ledger_event_id(entry: dict) -> str:
    """The event id of a ledger entry's event: a UUID named by the entry's key (member id and entry key)."""
    return str(uuid.uuid5(LEDGER_EVENTS, f"{entry['member_id']}/{entry['entry_key']}"))


def from_ledger_item(item: dict[str, Any]) -> list[DomainEvent]:
    """The events of one ledger item read from the table (DynamoDB JSON), as the stream's INSERT announced them."""
    record = {"eventID": "replay", "eventName": "INSERT", "dynamodb": {"Keys": {}, "NewImage": item}}
    return from_record(DynamoDBRecord(record))


def from_stream(records: Iterable[dict]) -> list[DomainEvent]:
    """The domain events of a batch of raw stream records, in order."""
    return [event for record in records for event in from_record(DynamoDBRecord(record))]


def _rfc3339(moment: datetime) -> str:
    """As the API writes times: RFC 3339 in UTC."""
    return moment.isoformat().replace("+00:00", "Z")


def _timestamp(stored: str | None) -> str | None:
    """A time as stored by pynamodb ("...000000+0000"), in the API's format."""
    from pynamodb.attributes import UTCDateTimeAttribute

    return _rfc3339(UTCDateTimeAttribute().deserialize(stored)) if stored else None


def _ledger_events(entry: dict, base: dict) -> list[DomainEvent]:
    common = {**base, "member_id": entry["member_id"], "entry_id": entry["entry_id"], "balance": entry["balance_after"],
              "at": _timestamp(entry["created_at"])}
    if entry["type"] == "earn":
        return [DomainEvent("PointsEarned", {**common, "points": entry["points"], "transaction_id": entry["transaction_id"],
                                             "amount_minor": entry.get("amount_minor"), "currency": entry.get("currency"),
                                             "tier": entry.get("tier_after"), "expires_at": _timestamp(entry.get("expires_at")),
                                             "available_at": _timestamp(entry.get("available_at")),
                                             "program_version": entry.get("program_version"),
                                             **_explanation(entry), **_purchase(entry)})]
    if entry["type"] == "redeem":
        return [DomainEvent("PointsRedeemed", {**common, "points": -entry["points"], "reward_id": entry.get("reward_id"),
                                               "value_minor": entry.get("value_minor"), "voucher_code": entry.get("voucher_code")})]
    if entry["type"] == "adjust":
        return [DomainEvent("PointsAdjusted", {**common, "points": entry["points"], "reason": entry.get("reason"),
                                               "expires_at": _timestamp(entry.get("expires_at"))})]
    if entry["type"] == "cancel":
        return [DomainEvent("RedemptionCancelled", {
            **common, "points": entry["points"], "points_forfeited": entry.get("points_forfeited", 0),
            "redemption_id": entry.get("redemption_id"), "reward_id": entry.get("reward_id"),
            "voucher_code": entry.get("voucher_code"),
        })]
    if entry["type"] == "bonus" and entry.get("bonus") == "birthday":  # the daily job's, once a year (its key names it)
        return [DomainEvent("BirthdayBonusCredited", {**common, "points": entry["points"], "year": _birthday_year(entry),
                                                      "expires_at": _timestamp(entry.get("expires_at"))})]
    if entry["type"] == "bonus" and entry.get("bonus") == "referral":  # an earn's, once per referred member, to both
        return [DomainEvent("ReferralBonusCredited", {**common, "points": entry["points"],
                                                      "expires_at": _timestamp(entry.get("expires_at")),
                                                      "available_at": _timestamp(entry.get("available_at"))})]
    if entry["type"] == "expire":
        return [DomainEvent("PointsExpired", {**common, "points": -entry["points"], "lots": entry.get("lots_consumed") or {}})]
    if entry["type"] == "return":  # the points a return took back (pending first, then the balance), and the refund
        return [DomainEvent("PurchaseReturned", {
            **common, "points": -entry["points"], "points_unrecovered": entry.get("points_unrecovered", 0),
            "transaction_id": entry.get("transaction_id"), "return_id": entry.get("return_id"),
            "amount_minor": entry.get("amount_minor"), "program_version": entry.get("program_version"),
        })]
    if entry["type"] == "erase":  # the balance (spendable and pending) an erasure forfeits: amounts only, no person
        return [DomainEvent("PointsForfeited", {**common, "points": -entry["points"], "reason": "erasure"})]
    return []


def _birthday_year(entry: dict) -> int:
    """The year of a birthday bonus entry, from its key ("bonus#birthday#<year>")."""
    return int(str(entry["entry_key"]).rsplit("#", 1)[1])


def _explanation(entry: dict) -> dict:
    """An earn's base points and breakdown (null on an entry written before explanations were kept); each line
    names the program version whose rules gave it (stored on the line only where it is not the entry's; null on
    an entry written before versions)."""
    lines = entry.get("breakdown")
    return {"base_points": entry.get("base_points"),
            "breakdown": [{"source": line["source"], "campaign_id": line.get("campaign_id"), "points": line["points"],
                           "program_version": line.get("program_version", entry.get("program_version"))}
                          for line in lines] if lines is not None else None}


def _purchase(entry: dict) -> dict:
    """What analytics needs of an earn's purchase, pseudonymous: when it happened, where, and its basket lines
    (sku, category, amount, quantity: as the till sent them; null when it sent none)."""
    items = entry.get("items")
    return {"occurred_at": _timestamp(entry.get("occurred_at")), "store_id": entry.get("store_id"),
            "channel": entry.get("channel"),
            "items": [{"sku": item["sku"], "category": item.get("category"), "amount_minor": item["amount_minor"],
                       "quantity": item.get("quantity", 1)} for item in items] if items is not None else None}


def _member_events(kind: str, new: dict, old: dict, base: dict) -> list[DomainEvent]:
    member = {**base, "member_id": new["member_id"]}
    if kind == "INSERT":
        return [DomainEvent("MemberEnrolled", {
            **member, "channel": new["channel"], "tier": new["tier"],
            "referral_code": new["referral_code"], "marketing_opt_in": new.get("marketing_opt_in", False),
            "points_balance": new["balance"], "enrolled_at": _timestamp(new["enrolled_at"]),
        })]
    events = []
    if old and new.get("status") == "erased":
        if old.get("status") != "erased":
            events.append(DomainEvent("MemberErased", {**member, "erased_at": _timestamp(new.get("erased_at"))}))
        return events  # an erasure announces nothing else (the member leaves its tier in the counters, not in events)
    # Items written before blocking existed have no status: active. The reason stays on the member (free text).
    if old and old.get("status", "active") != new.get("status", "active"):
        kind_of = "MemberBlocked" if new.get("status") == "blocked" else "MemberUnblocked"
        events.append(DomainEvent(kind_of, {**member, "status": new["status"], "at": _timestamp(new.get("status_changed_at"))}))
    changed = [name for name in PROFILE_FIELDS if old and old.get(name) != new.get(name)]
    if changed:  # the names only: the values are personal data
        events.append(DomainEvent("MemberUpdated", {**member, "fields": changed, "at": _timestamp(new.get("profile_updated_at"))}))
    attributes, attributes_before = new.get("attributes") or {}, (old or {}).get("attributes") or {}
    if old and attributes != attributes_before:  # the business's own values (segment facts), not personal data
        events.append(DomainEvent("MemberAttributesChanged", {
            **member, "changed": sorted(name for name in {*attributes, *attributes_before}
                                        if _typed(attributes.get(name)) != _typed(attributes_before.get(name))),
            "attributes": attributes, "at": _timestamp(new.get("profile_updated_at"))}))
    if old and old.get("tier") != new.get("tier"):
        reviewed = new.get("tier_reviewed") != old.get("tier_reviewed")  # else an earn moved it up
        events.append(DomainEvent("TierChanged", {
            **member, "from": old.get("tier"), "to": new["tier"], "reason": "tier_review" if reviewed else "points_earned",
        }))
    events.extend(_released(new, old, member))
    before = (old or {}).get("activated") or {}
    for campaign_id, at in sorted(((new.get("activated") or {}).items())):
        if campaign_id not in before:
            events.append(DomainEvent("OfferActivated", {
                **member, "event_id": f"{base['event_id']}:{campaign_id}", "campaign_id": campaign_id,
                "activated_at": at,  # stored as RFC 3339 in UTC, to the second
            }))
    for month in sorted(set(new.get("reminded_lots") or []) - set(old.get("reminded_lots") or [])):
        events.append(DomainEvent("PointsExpiringSoon", {
            **member, "event_id": f"{base['event_id']}:{month}",
            "points": (new.get("lots") or {}).get(month, 0), "lot_month": month, "expires_at": _rfc3339(end_of_month(month)),
            "marketing_opt_in": new.get("marketing_opt_in", False),
        }))
    return events


def _typed(value: object) -> tuple[str, object]:
    """An attribute as compared: true is not 1."""
    return type(value).__name__, value


def _released(new: dict, old: dict, member: dict) -> list[DomainEvent]:
    """PointsAvailable for each pending lot that left the member's `pending` by being released (its key at or
    before `released_through`), not by a return taking it back."""
    through, before, after = new.get("released_through"), (old or {}).get("pending") or {}, new.get("pending") or {}
    return [
        DomainEvent("PointsAvailable", {**member, "event_id": f"{member['event_id']}:{key}", "points": before[key],
                                        "available_at": key})
        for key in sorted(before) if key not in after and through is not None and key <= through and before[key]
    ]


class EventsNotAccepted(Exception):
    """EventBridge refused some events after their retries: the stream record fails and is delivered again (its
    events that were accepted go again too: consumers drop them by event_id)."""


class Publisher:
    """Puts events on the bus, or gives them to the `sink` the platform provides (the local runtime's file)."""

    def __init__(self, bus: str, client=None, region: str | None = None, sleep: Callable[[float], None] = time.sleep,
                 sink: EventSink | None = None) -> None:
        self.bus, self._client, self.region, self.sleep, self.sink = bus, client, region, sleep, sink

    @classmethod
    def from_settings(cls, settings: PublisherSettings, sink: EventSink | None = None) -> Publisher:
        return cls(settings.event_bus_name, region=settings.aws_region, sink=sink)

    def client(self):
        if self._client is None:
            import boto3  # only the publisher talks to EventBridge

            from loyalty.settings import aws_client_config

            self._client = boto3.client("events", region_name=self.region, config=aws_client_config())
        return self._client

    def publish(self, events: list[DomainEvent], log) -> None:
        if not events:
            return
        if self.sink is not None:
            self.sink(events, log)
            return
        for start in range(0, len(events), PUT_EVENTS_LIMIT):
            chunk = events[start:start + PUT_EVENTS_LIMIT]
            self._put([{"Source": SOURCE, "DetailType": e.detail_type, "Detail": json.dumps(e.detail),
                        "EventBusName": self.bus} for e in chunk])

    def _put(self, entries: list[dict]) -> None:
        """PutEvents, then again with only the entries it refused (a partial failure: FailedEntryCount), a few times."""
        for attempt in range(PUT_EVENTS_ATTEMPTS):
            response = self.client().put_events(Entries=entries)
            if not response.get("FailedEntryCount"):
                return
            refused = [entry for entry, result in zip(entries, response["Entries"], strict=True) if result.get("ErrorCode")]
            codes = sorted({result["ErrorCode"] for result in response["Entries"] if result.get("ErrorCode")})
            entries = refused
            if attempt + 1 < PUT_EVENTS_ATTEMPTS:
                self.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise EventsNotAccepted(f"{len(entries)} events were not accepted after {PUT_EVENTS_ATTEMPTS} tries: {', '.join(codes)}")
