"""The segments' store operations: documents in the catalog table, all under pk "SEGMENT" (one Query reads them
all: what the earn and report functions cache, like the campaigns)."""

from __future__ import annotations

import json
from datetime import datetime

from pynamodb.exceptions import DeleteError, DoesNotExist, GetError, PutError, QueryError, UpdateError

from loyalty.domain import errors
from loyalty.domain.segments import Segment, parse_segment
from loyalty.store.clients import share_client
from loyalty.store.models import CampaignModel, bind_campaigns
from loyalty.store.transaction import RequestHook, busy, hook_requests, response_code

PK = "SEGMENT"
CONDITION_FAILED = "ConditionalCheckFailedException"


def document_of(segment: Segment) -> str:
    return json.dumps(segment.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))


class SegmentStore:
    """The segments of one catalog table (the campaigns' item type, under its own partition key)."""

    def __init__(self, model: type[CampaignModel]) -> None:
        self.model = model

    @classmethod
    def from_table(cls, catalog_table: str, region: str | None = None, endpoint_url: str | None = None) -> SegmentStore:
        model = bind_campaigns(catalog_table, region, endpoint_url)
        share_client([model])
        return cls(model)

    def on_request(self, hook: RequestHook) -> None:
        hook_requests([self.model], hook)

    def all(self) -> list[Segment]:
        """Every segment, by id: one Query (a page holds 1 MB: far more than MAX_SEGMENTS documents)."""
        try:
            return [parse_segment(json.loads(record.document)) for record in self.model.query(PK)]
        except QueryError as error:
            raise busy(error) from error

    def get(self, segment_id: str) -> Segment | None:
        try:
            return parse_segment(json.loads(self.model.get(PK, segment_id, consistent_read=True).document))
        except DoesNotExist:
            return None
        except GetError as error:
            raise busy(error) from error

    def create(self, segment: Segment, now: datetime) -> Segment:
        record = self.model(PK, segment.segment_id, document=document_of(segment), status="active", created_at=now)
        try:
            record.save(condition=self.model.sk.does_not_exist())
        except PutError as error:
            if response_code(error) == CONDITION_FAILED:
                raise errors.SegmentExists(f"a segment {segment.segment_id} exists already") from None
            raise busy(error) from error
        return segment

    def replace(self, segment: Segment) -> Segment:
        model = self.model
        try:
            model(PK, segment.segment_id).update(actions=[model.document.set(document_of(segment)), model.version.add(1)],
                                                 condition=model.sk.exists())
        except UpdateError as error:
            if response_code(error) == CONDITION_FAILED:
                raise errors.SegmentNotFound(f"no segment {segment.segment_id}") from None
            raise busy(error) from error
        return segment

    def delete(self, segment_id: str) -> None:
        try:
            self.model(PK, segment_id).delete(condition=self.model.sk.exists())
        except DeleteError as error:
            if response_code(error) == CONDITION_FAILED:
                raise errors.SegmentNotFound(f"no segment {segment_id}") from None
            raise busy(error) from error
