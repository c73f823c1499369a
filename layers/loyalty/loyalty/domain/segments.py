"""Segments: named rules over a member's facts, evaluated by the campaign condition engine (pure).

A segment is `{segment_id, name, description, conditions}`, the conditions in the campaign condition language
over `member.*` facts only (an `order.*` fact is refused when the segment is written: a segment is about the
member, not about one purchase). Membership is evaluated on the member's facts when it is needed (earn, offers,
facts), so it is never stale and needs no table of members per segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loyalty.domain.campaigns.document import MAX_DEPTH, Condition, Id, Text
from loyalty.domain.campaigns.engine import holds
from loyalty.domain.errors import DomainError
from loyalty.domain.facts import RfmBoundaries, condition_facts, member_facts
from loyalty.domain.model import Member

MAX_SEGMENTS = 200  # segments a program may hold (each earn evaluates those its campaigns' audiences name)


class InvalidSegment(DomainError):
    """The segment document breaks a rule; `details.errors` lists every `{field, message}`."""

    status, code = 422, "VALIDATION_ERROR"


def _tests(node: Condition) -> Iterable[Condition]:
    children = node.all or node.any
    if children is None:
        yield node
    else:
        for child in children:
            yield from _tests(child)


class Segment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    segment_id: Id
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    description: Annotated[Text, Field(max_length=2000)] = ""
    conditions: Condition

    @field_validator("conditions")
    @classmethod
    def _over_member_facts(cls, conditions: Condition) -> Condition:
        if conditions.fact is not None:
            raise ValueError("must be a group: {all: [...]} or {any: [...]}")
        if conditions.depth > MAX_DEPTH:
            raise ValueError(f"all/any nest {conditions.depth} levels deep; at most {MAX_DEPTH}")
        for test in _tests(conditions):
            if not str(test.fact).startswith("member."):
                raise ValueError(f"{test.fact}: a segment tests member facts only (member.*), not a purchase's")
        return conditions


def parse_segment(document: object) -> Segment:
    """The segment a JSON document describes, or `InvalidSegment` listing every problem with its field."""
    try:
        return Segment.model_validate(document)
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(part) for part in problem["loc"]) or "segment",
             "message": problem["msg"].removeprefix("Value error, ")}
            for problem in error.errors()
        ]
        first = problems[0]
        raise InvalidSegment(f"the segment is not valid: {first['field']}: {first['message']}", errors=problems) from None


def members_segments(segments: Iterable[Segment], facts: Mapping[str, object]) -> frozenset[str]:
    """The segments (of those given) whose conditions hold on these condition facts (`facts.condition_facts`)."""
    return frozenset(segment.segment_id for segment in segments if holds(segment.conditions, facts))


def segments_of(member: Member, segments: Iterable[Segment], at: datetime, time_zone: str,
                rfm: RfmBoundaries | None = None) -> frozenset[str]:
    """The segments (of those given) the member is in at `at`: the member as brought up to date; `rfm`: the
    published boundaries `member.rfm.*` is scored against."""
    return members_segments(segments, condition_facts(member_facts(member, at, time_zone, rfm)))
