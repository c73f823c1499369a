"""The campaigns' store operations: documents in the catalog table, all under pk "CAMPAIGN".

A campaign is written as a draft, replaced while a draft, then activated (frozen) and ended. Each
operation is one DynamoDB request on the normal path; a refused one reads the campaign once more to
say why. The active campaigns are one Query: what the earn function caches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, GetError, PutError, QueryError, UpdateError

from loyalty.domain import errors
from loyalty.domain.campaigns import Campaign, parse_campaign
from loyalty.store.models import CampaignModel, bind_campaigns
from loyalty.store.repository import RequestHook, _busy, _on_request

PK = "CAMPAIGN"
DRAFT, ACTIVE, ENDED = "draft", "active", "ended"
CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class StoredCampaign:
    campaign: Campaign
    status: str  # as stored; an active campaign whose ends_at has passed is still "active" here
    created_at: datetime
    activated_at: datetime | None = None
    ended_at: datetime | None = None
    version: int = 0


def document_of(campaign: Campaign) -> str:
    return json.dumps(campaign.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))


def _from_record(record: CampaignModel) -> StoredCampaign:
    return StoredCampaign(
        campaign=parse_campaign(json.loads(record.document)), status=record.status, created_at=record.created_at,
        activated_at=record.activated_at, ended_at=record.ended_at, version=record.version,
    )


class CampaignStore:
    """The campaigns of one catalog table."""

    def __init__(self, model: type[CampaignModel]) -> None:
        self.model = model

    @classmethod
    def from_table(cls, catalog_table: str, region: str | None = None, endpoint_url: str | None = None) -> CampaignStore:
        return cls(bind_campaigns(catalog_table, region, endpoint_url))

    def on_request(self, hook: RequestHook) -> None:
        _on_request([self.model], hook)

    def get(self, campaign_id: str) -> StoredCampaign | None:
        try:
            return _from_record(self.model.get(PK, campaign_id, consistent_read=True))
        except DoesNotExist:
            return None
        except GetError as error:
            raise _busy(error) from error

    def create(self, campaign: Campaign, now: datetime) -> StoredCampaign:
        """Write a new draft; `CAMPAIGN_EXISTS` if its id is taken."""
        stored = StoredCampaign(campaign, DRAFT, now)
        record = self.model(PK, campaign.campaign_id, document=document_of(campaign), status=DRAFT, created_at=now)
        try:
            record.save(condition=self.model.sk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == CONDITION_FAILED:
                raise errors.CampaignExists(f"a campaign {campaign.campaign_id} exists already") from None
            raise _busy(error) from error
        return stored

    def active(self) -> list[Campaign]:
        """The campaigns marked active (whether their dates admit a purchase is the engine's call): one Query."""
        try:
            records = self.model.query(PK, filter_condition=self.model.status == ACTIVE)
            return [parse_campaign(json.loads(record.document)) for record in records]
        except QueryError as error:
            raise _busy(error) from error

    def activate(self, campaign_id: str, now: datetime) -> StoredCampaign:
        """Draft -> active (frozen from now on). Active already: unchanged; ended: `CAMPAIGN_NOT_EDITABLE`."""
        model = self.model
        record = model(PK, campaign_id)
        try:
            record.update(actions=[model.status.set(ACTIVE), model.activated_at.set(now), model.version.add(1)],
                          condition=model.status == DRAFT)
            return _from_record(record)
        except UpdateError as error:
            if error.cause_response_code != CONDITION_FAILED:
                raise _busy(error) from error
        current = self.get(campaign_id)
        if current is None:
            raise errors.CampaignNotFound(f"no campaign {campaign_id}")
        if current.status == ACTIVE:
            return current
        raise errors.CampaignNotEditable(f"campaign {campaign_id} has ended; create another")
