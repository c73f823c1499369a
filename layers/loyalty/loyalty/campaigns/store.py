"""The campaigns' store operations: documents in the catalog table, all under pk "CAMPAIGN".

A campaign is written as a draft, replaced while a draft, then activated (frozen) and ended. Each
operation is one DynamoDB request on the normal path; a refused one reads the campaign once more to
say why. The active campaigns are one Query: what the earn function caches.

Status is computed from the stored status and the clock: a campaign stored "active" whose `ends_at`
has passed is ended (at its `ends_at`) without any write. The record keeps `ends_at` beside the
document so that the activation's condition and the list's filter can compare it with now.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pynamodb.exceptions import DoesNotExist, GetError, PutError, QueryError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from loyalty.domain import errors
from loyalty.domain.campaigns.document import Campaign, InvalidCampaign, parse_campaign
from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS, CounterKey, Usage
from loyalty.domain.campaigns.shards import TRANSACTION_ITEMS, statistics_increments, stored_keys
from loyalty.store import keys
from loyalty.store.models import CampaignCounterModel, CampaignModel, bind_campaign_counters, bind_campaigns
from loyalty.store.clients import share_client
from loyalty.store.transaction import RequestHook, busy, hook_requests, response_code

PK = "CAMPAIGN"
DRAFT, ACTIVE, ENDED = "draft", "active", "ended"
CONDITION_FAILED = "ConditionalCheckFailedException"
QUERY_PAGE = 100  # items a list reads per Query: a filtered page may skip many campaigns of other statuses


@dataclass(frozen=True)
class StoredCampaign:
    campaign: Campaign
    status: str  # as stored; an active campaign whose ends_at has passed is still "active" here
    created_at: datetime
    activated_at: datetime | None = None
    ended_at: datetime | None = None
    version: int = 0

    def status_at(self, now: datetime) -> str:
        """The status a reader sees: an active campaign is ended once its ends_at has passed."""
        ends_at = self.campaign.ends_at
        return ENDED if self.status == ACTIVE and ends_at is not None and ends_at <= now else self.status

    def ended_at_at(self, now: datetime) -> datetime | None:
        """When it ended: ended through the API, or its ends_at once that has passed."""
        return self.ended_at if self.status != ACTIVE or self.status_at(now) == ACTIVE else self.campaign.ends_at


def document_of(campaign: Campaign) -> str:
    return json.dumps(campaign.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))


def _from_record(record: CampaignModel) -> StoredCampaign:
    return StoredCampaign(
        campaign=parse_campaign(json.loads(record.document)), status=record.status, created_at=record.created_at,
        activated_at=record.activated_at, ended_at=record.ended_at, version=record.version,
    )


def _still_running(model: type[CampaignModel], now: datetime):
    return model.ends_at.does_not_exist() | (model.ends_at > now)


class CampaignStore:
    """The campaigns of one catalog table (and, to read their counters, of one statistics table)."""

    def __init__(self, model: type[CampaignModel], counters: type[CampaignCounterModel] | None = None) -> None:
        self.model = model
        self.counters = counters

    @classmethod
    def from_table(
        cls, catalog_table: str, region: str | None = None, endpoint_url: str | None = None, stats_table: str | None = None,
    ) -> CampaignStore:
        counters = bind_campaign_counters(stats_table, region, endpoint_url) if stats_table else None
        model = bind_campaigns(catalog_table, region, endpoint_url)
        share_client([model, counters] if counters else [model])
        return cls(model, counters)

    def on_request(self, hook: RequestHook) -> None:
        hook_requests([self.model] + ([self.counters] if self.counters else []), hook)

    def get(self, campaign_id: str) -> StoredCampaign | None:
        try:
            return _from_record(self.model.get(PK, campaign_id, consistent_read=True))
        except DoesNotExist:
            return None
        except GetError as error:
            raise busy(error) from error

    def create(self, campaign: Campaign, now: datetime) -> StoredCampaign:
        """Write a new draft; `CAMPAIGN_EXISTS` if its id is taken."""
        stored = StoredCampaign(campaign, DRAFT, now)
        record = self.model(PK, campaign.campaign_id, document=document_of(campaign), status=DRAFT, created_at=now,
                            ends_at=campaign.ends_at)
        try:
            record.save(condition=self.model.sk.does_not_exist())
        except PutError as error:
            if response_code(error) == CONDITION_FAILED:
                raise errors.CampaignExists(f"a campaign {campaign.campaign_id} exists already") from None
            raise busy(error) from error
        return stored

    def replace(self, campaign: Campaign) -> StoredCampaign:
        """A draft's new document. The write is conditional on "still a draft", so a replace racing an activation
        either lands before it (and is what gets activated) or is refused: an active campaign never changes."""
        model = self.model
        ends_at = model.ends_at.set(campaign.ends_at) if campaign.ends_at else model.ends_at.remove()
        record = model(PK, campaign.campaign_id)
        try:
            record.update(actions=[model.document.set(document_of(campaign)), ends_at, model.version.add(1)],
                          condition=model.status == DRAFT)
            return _from_record(record)
        except UpdateError as error:
            if response_code(error) != CONDITION_FAILED:
                raise busy(error) from error
        if self.get(campaign.campaign_id) is None:
            raise errors.CampaignNotFound(f"no campaign {campaign.campaign_id}")
        raise errors.CampaignNotEditable(f"campaign {campaign.campaign_id} is not a draft any more: end it and create another")

    def active(self) -> list[Campaign]:
        """The campaigns marked active (whether their dates admit a purchase is the engine's call): one Query."""
        try:
            records = self.model.query(PK, filter_condition=self.model.status == ACTIVE)
            return [parse_campaign(json.loads(record.document)) for record in records]
        except QueryError as error:
            raise busy(error) from error

    def activate(self, campaign_id: str, now: datetime) -> StoredCampaign:
        """Draft -> active (frozen from now on). Active already: unchanged; ended: `CAMPAIGN_NOT_EDITABLE`;
        a draft whose ends_at has passed would never apply: `VALIDATION_ERROR` naming ends_at."""
        model = self.model
        record = model(PK, campaign_id)
        try:
            record.update(actions=[model.status.set(ACTIVE), model.activated_at.set(now), model.version.add(1)],
                          condition=(model.status == DRAFT) & _still_running(model, now))
            return _from_record(record)
        except UpdateError as error:
            if response_code(error) != CONDITION_FAILED:
                raise busy(error) from error
        current = self.get(campaign_id)
        if current is None:
            raise errors.CampaignNotFound(f"no campaign {campaign_id}")
        if current.status == ACTIVE:
            return current
        if current.status == DRAFT:  # its ends_at has passed (or it changed since: the caller may retry)
            ends_at = current.campaign.ends_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
            message = f"{ends_at} has passed: the campaign would never apply"
            raise InvalidCampaign(f"the campaign cannot be activated: ends_at: {message}",
                                  errors=[{"field": "ends_at", "message": message}])
        raise errors.CampaignNotEditable(f"campaign {campaign_id} has ended; create another")

    def end(self, campaign_id: str, now: datetime) -> StoredCampaign:
        """Draft or active -> ended at `now`. Ended already, or past its ends_at: unchanged (it has ended)."""
        model = self.model
        record = model(PK, campaign_id)
        try:
            record.update(actions=[model.status.set(ENDED), model.ended_at.set(now), model.version.add(1)],
                          condition=(model.status == DRAFT) | ((model.status == ACTIVE) & _still_running(model, now)))
            return _from_record(record)
        except UpdateError as error:
            if response_code(error) != CONDITION_FAILED:
                raise busy(error) from error
        current = self.get(campaign_id)
        if current is None:
            raise errors.CampaignNotFound(f"no campaign {campaign_id}")
        return current

    def listing(self, status: str | None, limit: int, cursor: str | None, now: datetime) -> tuple[list[StoredCampaign], str | None]:
        """A page of campaigns by id, optionally of one status as `StoredCampaign.status_at(now)` computes it."""
        model = self.model
        where = {
            None: None,
            DRAFT: model.status == DRAFT,
            ACTIVE: (model.status == ACTIVE) & _still_running(model, now),
            ENDED: (model.status == ENDED) | ((model.status == ACTIVE) & (model.ends_at <= now)),
        }[status]
        try:
            page = model.query(PK, filter_condition=where, limit=limit, page_size=max(limit, QUERY_PAGE),
                               last_evaluated_key=_decode_cursor(cursor) if cursor else None, consistent_read=True)
            found = [_from_record(record) for record in page]
        except QueryError as error:
            raise busy(error) from error
        last = page.last_evaluated_key
        return found, _encode_cursor(last) if last and len(found) == limit else None

    def usage(self, campaign_ids: Iterable[str]) -> dict[str, Usage]:
        """What each campaign has given so far (points_awarded, times_applied): the sum of its per-campaign
        counter's shards, read with BatchGetItems of 100 keys (a list page of 100 ids: 5); a shard never written
        is 0."""
        ids = list(dict.fromkeys(campaign_ids))
        wanted = {keys.campaign_counter(shard_key, ""): shard_key.campaign_id
                  for shard_key in stored_keys(CounterKey(campaign_id, "campaign", "campaign") for campaign_id in ids)}
        usage = {campaign_id: Usage() for campaign_id in ids}
        if not wanted or self.counters is None:
            return usage
        try:
            for item in self.counters.batch_get(list(wanted)):
                campaign_id, before = wanted[item.pk], usage[wanted[item.pk]]
                usage[campaign_id] = Usage(before.points + int(item.points or 0), before.times + int(item.times or 0))
        except GetError as error:
            raise busy(error) from error
        return usage


MARKER_KEPT = timedelta(days=30)  # a statistics marker outlives the stream's 24 hours of redelivery by far (TTL)


class CampaignStatistics:
    """Adds the campaigns' statistics of new earn entries from the ledger stream, each entry once.

    An earn entry names the campaigns whose `points_awarded` and `times_applied` its transaction did not add
    (`statistics_later`); this adds each one's points and one time to its home shard of the campaign's counter,
    in one transaction with a marker keyed by the entry (written only if absent), so a record the stream delivers
    again, or a batch replayed, adds nothing twice.
    """

    def __init__(self, counters: type[CampaignCounterModel]) -> None:
        self.counters = counters

    @classmethod
    def from_table(cls, stats_table: str, region: str | None = None, endpoint_url: str | None = None) -> CampaignStatistics:
        counters = bind_campaign_counters(stats_table, region, endpoint_url)
        share_client([counters])
        return cls(counters)

    def on_request(self, hook: RequestHook) -> None:
        hook_requests([self.counters], hook)

    def add(self, entry: dict[str, Any], now: datetime) -> bool:
        """Add a new ledger entry's (its stream image, plain values) deferred statistics; False when there are none
        or they were added before."""
        names = set((entry.get("statistics_later") or "").split())
        lines = [(line["campaign_id"], int(line["points"])) for line in entry.get("breakdown") or []
                 if line.get("source") == "campaign" and line.get("campaign_id") in names]
        if entry.get("type") != "earn" or not lines:
            return False
        member_id, entry_key = entry["member_id"], entry["entry_key"]
        increments = statistics_increments(lines, keys.shard_of(member_id, CAMPAIGN_SHARDS))
        model, added = self.counters, False
        expires = int((now + MARKER_KEPT).timestamp())
        per_transaction = TRANSACTION_ITEMS - 1  # and its marker
        for part, offset in enumerate(range(0, len(increments), per_transaction)):
            marker = keys.campaign_stats_marker(member_id, entry_key) + (f"#{part}" if part else "")
            try:
                with TransactWrite(connection=model._get_connection().connection) as writes:
                    writes.save(model(marker, expires=expires), condition=model.pk.does_not_exist())
                    for increment in increments[offset:offset + per_transaction]:
                        writes.update(model(keys.campaign_counter(increment.key, member_id)),
                                      actions=[model.points.add(increment.points), model.times.add(increment.times)])
            except TransactWriteError as error:
                reasons = [reason.code if reason else None for reason in error.cancellation_reasons or []]
                if reasons[:1] == ["ConditionalCheckFailed"]:  # the marker: added before
                    continue
                raise busy(error) from error
            added = True
        return added


def _encode_cursor(last_evaluated_key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_evaluated_key, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str) -> dict:
    """A cursor this list returned: the table's key of a campaign."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        valid = (isinstance(key, dict) and key.get("pk") == {"S": PK} and set(key) == {"pk", "sk"}
                 and isinstance(key["sk"], dict) and set(key["sk"]) == {"S"} and isinstance(key["sk"]["S"], str))
    except (ValueError, TypeError, binascii.Error):
        valid = False
    if not valid:
        raise errors.InvalidCursor("the cursor is not one this list returned")
    return key
