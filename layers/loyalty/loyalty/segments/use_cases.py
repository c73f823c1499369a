"""The segments' use cases (admin): define, replace, retire, read and list segments.

A segment in an active campaign's audience cannot be retired (`SEGMENT_IN_USE`); a replaced one reaches the
functions that cache segments within their cache's time (60 s), like a campaign.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loyalty.clock import Clock
from loyalty.domain import errors
from loyalty.domain.segments import MAX_SEGMENTS, InvalidSegment, Segment
from loyalty.segments.store import SegmentStore

if TYPE_CHECKING:
    from loyalty.domain.campaigns.document import Campaign


@dataclass
class Segments:
    store: SegmentStore
    clock: Clock
    active_campaigns: Callable[[], list[Campaign]]  # read fresh: a retirement must see every activation so far

    def create(self, segment: Segment) -> Segment:
        if len(self.store.all()) >= MAX_SEGMENTS:
            raise InvalidSegment(f"a program holds at most {MAX_SEGMENTS} segments; retire one first",
                                 errors=[{"field": "segment_id", "message": f"at most {MAX_SEGMENTS} segments"}])
        return self.store.create(segment, self.clock.now())

    def replace(self, segment: Segment) -> Segment:
        return self.store.replace(segment)

    def get(self, segment_id: str) -> Segment:
        found = self.store.get(segment_id)
        if found is None:
            raise errors.SegmentNotFound(f"no segment {segment_id}")
        return found

    def ensure_defined(self, segment_ids: tuple[str, ...]) -> None:
        """Every id names a segment: a campaign is not written with an audience naming one that does not exist."""
        known = {segment.segment_id for segment in self.store.all()}
        unknown = [segment_id for segment_id in segment_ids if segment_id not in known]
        if unknown:
            message = f"{', '.join(unknown)}: no such segment"
            raise InvalidSegment(f"the campaign is not valid: audience: {message}",
                                 errors=[{"field": "audience", "message": message}])

    def retire(self, segment_id: str) -> Segment:
        now = self.clock.now()
        users = sorted(campaign.campaign_id for campaign in self.active_campaigns()
                       if campaign.audience and segment_id in campaign.audience.segment_ids
                       and (campaign.ends_at is None or campaign.ends_at > now))
        if users:
            raise errors.SegmentInUse(f"segment {segment_id} is in the audience of active campaigns: {', '.join(users)}",
                                      campaigns=users)
        retired = self.get(segment_id)
        self.store.delete(segment_id)
        return retired

    def listing(self, limit: int, cursor: str | None) -> tuple[list[Segment], str | None]:
        """A page of segments by id; the cursor is the last id of the previous page."""
        after = _decode(cursor) if cursor else ""
        found = [segment for segment in sorted(self.store.all(), key=lambda s: s.segment_id) if segment.segment_id > after]
        page = found[:limit]
        return page, _encode(page[-1].segment_id) if len(found) > limit else None


def _encode(segment_id: str) -> str:
    return base64.urlsafe_b64encode(f"segment:{segment_id}".encode()).decode()


def _decode(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, binascii.Error):
        text = ""
    if not text.startswith("segment:"):
        raise errors.InvalidCursor("the cursor is not one this list returned")
    return text.removeprefix("segment:")
