"""Personalised offers (pure): which campaigns a member can benefit from now, with what is left of their limits,
and the activation of an offer that requires it.

An offer is an active or scheduled campaign (not past its `ends_at`) whose audience includes the member (by the
segments it is in), that does not hold the member out, whose member conditions hold (order conditions are judged
at the purchase) and whose limits leave room for this member. Held-out members are never told of the campaign.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from loyalty.domain import errors
from loyalty.domain.campaigns.document import Campaign, Condition
from loyalty.domain.campaigns.engine import CounterKey, Usage, counter_key, hidden_from, holds
from loyalty.domain.facts import RfmBoundaries, condition_facts, member_facts
from loyalty.domain.ledger import touch
from loyalty.domain.model import Member
from loyalty.domain.segments import Segment, members_segments

MAX_ACTIVATIONS = 50  # offers a member may hold activated at once (ended campaigns' go on the next activation)


@dataclass(frozen=True)
class Remaining:
    points: int | None  # what the tightest points limit leaves; None: no points limit
    times: int | None


@dataclass(frozen=True)
class Offer:
    campaign: Campaign
    activated: bool
    remaining: Remaining | None  # None: the campaign has no limits


def _member_may_match(node: Condition, seen: Mapping[str, object]) -> bool:
    """The conditions may hold for this member: its facts are judged now, the order's at the purchase."""
    if node.all is not None:
        return all(_member_may_match(child, seen) for child in node.all)
    if node.any is not None:
        return any(_member_may_match(child, seen) for child in node.any)
    return not str(node.fact).startswith("member.") or holds(node, seen)


def _remaining(campaign: Campaign, counters: Mapping[CounterKey, Usage], day: str) -> Remaining | None:
    if not campaign.limits:
        return None
    points: list[int] = []
    times: list[int] = []
    for limit in campaign.limits:
        used = counters.get(counter_key(campaign, limit, day), Usage())
        if limit.max_points is not None:
            points.append(limit.max_points - used.points)
        if limit.max_times is not None:
            times.append(limit.max_times - used.times)
    return Remaining(min(points) if points else None, min(times) if times else None)


def running(campaign: Campaign, now: datetime) -> bool:
    return campaign.ends_at is None or campaign.ends_at > now


def offered(member: Member, campaign: Campaign, facts: Mapping[str, object], in_segments: frozenset[str],
            now: datetime) -> bool:
    """Whether the campaign is offered to the member (limits aside)."""
    return (running(campaign, now) and not hidden_from(campaign, member)
            and (campaign.audience is None or campaign.audience.includes(in_segments))
            and (campaign.conditions is None or _member_may_match(campaign.conditions, facts)))


def named_segments(campaigns: Iterable[Campaign], segments: Iterable[Segment]) -> list[Segment]:
    named = {segment_id for campaign in campaigns if campaign.audience for segment_id in campaign.audience.segment_ids}
    return [segment for segment in segments if segment.segment_id in named]


def offers(member: Member, campaigns: Sequence[Campaign], segments: Sequence[Segment],
           counters: Mapping[CounterKey, Usage], now: datetime, time_zone: str,
           rfm: RfmBoundaries | None = None) -> list[Offer]:
    """The member's offers now, soonest ending first (then in evaluation order). `counters`: the limit counters of
    today (`engine.counter_keys(campaigns, now, ...)`, counters in all summed over their shards); `rfm`: the published
    boundaries."""
    facts = condition_facts(member_facts(member, now, time_zone, rfm))
    in_segments = members_segments(named_segments(campaigns, segments), facts)
    day = now.astimezone(ZoneInfo(time_zone)).date().isoformat()
    found = []
    for campaign in campaigns:
        if not offered(member, campaign, facts, in_segments, now):
            continue
        remaining = _remaining(campaign, counters, day)
        if remaining is not None and any(left is not None and left <= 0 for left in (remaining.points, remaining.times)):
            continue
        found.append(Offer(campaign, campaign.campaign_id in member.activated, remaining))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(found, key=lambda offer: (offer.campaign.ends_at or far, offer.campaign.order))


def activate(member: Member, campaign_id: str, campaigns: Sequence[Campaign], segments: Sequence[Segment],
             now: datetime, time_zone: str, rfm: RfmBoundaries | None = None) -> Member | None:
    """The member with the offer activated, or None when it was activated already (nothing to write).

    `OFFER_NOT_FOUND` for a campaign that is not an offer to this member (unknown, not active, not in its
    audience, holding it out); `CAMPAIGN_ENDED` once its `ends_at` has passed. An automatic offer may be activated
    too (it applies either way; a client need not know which offers require it).
    Activations of campaigns no longer active are dropped, so the member item stays bounded.
    """
    campaign = next((campaign for campaign in campaigns if campaign.campaign_id == campaign_id), None)
    if campaign is None or hidden_from(campaign, member):
        raise errors.OfferNotFound(f"no offer {campaign_id} for this member")
    if campaign_id in member.activated:
        return None
    if not running(campaign, now):
        raise errors.CampaignEnded(f"campaign {campaign_id} ended at {campaign.ends_at.isoformat()}",
                                   ends_at=campaign.ends_at.isoformat())
    facts = condition_facts(member_facts(member, now, time_zone, rfm))
    if not offered(member, campaign, facts, members_segments(named_segments([campaign], segments), facts), now):
        raise errors.OfferNotFound(f"no offer {campaign_id} for this member")
    live = {campaign.campaign_id for campaign in campaigns if running(campaign, now)}
    kept = {cid: at for cid, at in member.activated.items() if cid in live}
    if len(kept) >= MAX_ACTIVATIONS:
        raise errors.OfferNotFound(f"this member holds {MAX_ACTIVATIONS} activated offers already")
    member = member.copy()
    member.activated = {**kept, campaign_id: now.replace(microsecond=0)}  # kept to the second
    touch(member)
    return member
