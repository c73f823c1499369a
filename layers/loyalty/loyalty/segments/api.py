"""The segments' request and response bodies: the domain's segment document, so the OpenAPI document shows it."""

from __future__ import annotations

from pydantic import Field

from loyalty.api.fields import View
from loyalty.domain.campaigns.document import Condition, Id
from loyalty.domain.segments import InvalidSegment, Segment, parse_segment

SEGMENT_ID_PATTERN = r"^[a-z0-9-]{1,64}$"


class SegmentDocument(Segment):
    """A segment as the back office sends it: conditions over `member.*` facts only."""

    segment_id: Id | None = Field(default=None, description="Required on create; on replace the path names it.")

    def segment(self, segment_id: str | None = None) -> Segment:
        chosen = segment_id or self.segment_id
        if chosen is None:
            raise InvalidSegment("the segment is not valid: segment_id: required",
                                 errors=[{"field": "segment_id", "message": "required"}])
        return parse_segment({**self.model_dump(mode="json", exclude_none=True), "segment_id": chosen})


class SegmentView(Segment):
    conditions: Condition = Field(description="As sent: a group {all: [...]} or {any: [...]} over member facts.")

    @classmethod
    def of(cls, segment: Segment) -> SegmentView:
        return cls.model_validate(segment.model_dump(mode="json"))


class SegmentPage(View):
    items: list[SegmentView]
    next_cursor: str | None
