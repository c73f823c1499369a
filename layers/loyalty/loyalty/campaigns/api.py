"""The campaigns' request and response bodies: the domain's campaign document (loyalty.domain.campaigns), so the
OpenAPI document shows its schema (conditions, effects, limits), plus what the store knows about it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from loyalty.api.fields import Timestamp, View
from loyalty.domain.campaigns.document import AppliesTo, Campaign, Condition, Effect, Id, InvalidCampaign, Schedule, parse_campaign
from loyalty.domain.campaigns.engine import Usage
from loyalty.program import Program
from loyalty.campaigns.store import StoredCampaign

CAMPAIGN_ID_PATTERN = r"^[a-z0-9-]{1,64}$"
CampaignStatus = Literal["draft", "active", "ended"]
CONDITIONS = ("As sent: a group {all: [...]} or {any: [...]} of groups and tests {fact, op, value}, at most 3 levels "
              "(the schema is CampaignDocument's conditions).")


class CampaignDocument(Campaign):
    """A campaign document as the back office sends it (docs/api.md, "Campaign administration"); times are kept in UTC."""

    campaign_id: Id | None = Field(
        default=None, description="On create: generated when absent. On replace: ignored (the path names the campaign).")
    starts_at: Timestamp | None = Field(default=None, description="From when it applies (null: from its activation).")
    ends_at: Timestamp | None = Field(default=None, description="Exclusive; after starts_at (null: until ended).")

    def named_tiers(self) -> set[str]:
        """The tiers its conditions on member.tier name (a value that is not a string is the schema's to refuse)."""
        return set(_tier_values(self.conditions)) if self.conditions else set()

    def campaign(self, program: Program, campaign_id: str | None = None) -> Campaign:
        """The domain's campaign, with the given id, else the document's, else a new one; a condition naming a
        tier the program does not have would silently never hold, so it is refused like an unknown fact.
        `program`: the newest version's (its ladder names every tier, a future version's included)."""
        chosen = campaign_id or self.campaign_id or f"c-{uuid.uuid4().hex[:16]}"
        campaign = parse_campaign({**self.model_dump(mode="json", exclude_none=True), "campaign_id": chosen})
        tiers = [tier.name for tier in program.tiers]
        problems = list(_unknown_tiers(campaign.conditions, "conditions", tiers)) if campaign.conditions else []
        if problems:
            raise InvalidCampaign(f"the campaign is not valid: {problems[0]['field']}: {problems[0]['message']}",
                                  errors=problems)
        return campaign


def _tier_values(node: Condition) -> Iterator[str]:
    for group in ("all", "any"):
        for child in getattr(node, group) or ():
            yield from _tier_values(child)
    if node.fact == "member.tier":
        yield from (value for value in (node.value if isinstance(node.value, tuple) else (node.value,))
                    if isinstance(value, str))


def _unknown_tiers(node: Condition, field: str, tiers: list[str]) -> Iterator[dict[str, str]]:
    for group in ("all", "any"):
        for index, child in enumerate(getattr(node, group) or ()):
            yield from _unknown_tiers(child, f"{field}.{group}.{index}", tiers)
    if node.fact == "member.tier":
        unknown = [value for value in (node.value if isinstance(node.value, tuple) else (node.value,)) if value not in tiers]
        if unknown:
            yield {"field": f"{field}.value", "message": f"{', '.join(unknown)}: not a tier of the program ({', '.join(tiers)})"}


class CampaignView(Campaign):
    """A campaign as the back office sees it: its document, its status and what it has given so far."""

    conditions: Condition | None = Field(default=None, description=CONDITIONS)
    status: CampaignStatus = Field(description="`ended` also once an active campaign's ends_at has passed.")
    created_at: datetime
    activated_at: datetime | None
    ended_at: datetime | None = Field(description="When it was ended, or its ends_at once that has passed.")
    points_awarded: int = Field(description="Campaign points credited so far (a draft: 0).")
    times_applied: int = Field(description="Purchases it has applied to so far (a draft: 0).")

    @classmethod
    def of(cls, stored: StoredCampaign, usage: Usage, now: datetime) -> CampaignView:
        return cls.model_validate({
            **stored.campaign.model_dump(mode="json"), "status": stored.status_at(now), "created_at": stored.created_at,
            "activated_at": stored.activated_at, "ended_at": stored.ended_at_at(now), "points_awarded": usage.points,
            "times_applied": usage.times,
        })


class CampaignPage(View):
    items: list[CampaignView]
    next_cursor: str | None


class PublishedSegment(View):
    """A segment of an audience as the program page names it: never its rule (it would tell about other members)."""

    name: str
    description: str


class PublishedAudience(View):
    segments: list[PublishedSegment]
    exclude_segments: list[PublishedSegment]


class PublishedCampaign(View):
    """An active campaign as GET /v1/program publishes it: the rules, not its limits, its holdout or its counters."""

    campaign_id: str
    name: str
    description: str
    starts_at: datetime | None
    ends_at: datetime | None
    schedule: Schedule | None
    conditions: Condition | None = Field(description=CONDITIONS)
    applies_to: AppliesTo | None
    effect: Annotated[Effect, Field()]
    audience: PublishedAudience | None = Field(
        default=None, description="Who it is for: its segments' names and descriptions (null: every member).")
    activation: Literal["automatic", "required"] = "automatic"

    @classmethod
    def of(cls, campaign: Campaign, segments: Mapping[str, Any] | None = None) -> PublishedCampaign:
        """`segments`: the segments by id (a segment since retired is named by its id)."""
        fields = campaign.model_dump(mode="json", exclude={"audience"})
        if campaign.audience is not None:
            def named(ids: tuple[str, ...]) -> list[dict[str, str]]:
                found = [(segments or {}).get(segment_id) for segment_id in ids]
                return [{"name": segment.name, "description": segment.description} if segment else
                        {"name": segment_id, "description": ""} for segment_id, segment in zip(ids, found, strict=True)]
            fields["audience"] = {"segments": named(campaign.audience.segments),
                                  "exclude_segments": named(campaign.audience.exclude_segments)}
        return cls.model_validate(fields)


class ProgramView(Program):
    """The program's published rules, and the campaigns that apply now or will (in evaluation order)."""

    campaigns: list[PublishedCampaign] = Field(description="The active campaigns: priority higher first, then id.")

    @classmethod
    def of(cls, program: Program, active: list[Campaign], now: datetime, segments: Iterable[Any] = ()) -> ProgramView:
        """The program and the active campaigns not past their ends_at (decided now, whatever the cache's age;
        one that starts later is listed, with its starts_at)."""
        running = sorted((c for c in active if c.ends_at is None or c.ends_at > now), key=lambda c: c.order)
        fields = {name: getattr(program, name) for name in Program.model_fields}
        by_id = {segment.segment_id: segment for segment in segments}
        return cls.model_construct(**fields, campaigns=[PublishedCampaign.of(campaign, by_id) for campaign in running])
