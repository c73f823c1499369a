"""The six message kinds, whether each is a service or a marketing message, the placeholders its templates may
use, and the domain event (docs/events.md) that triggers it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SERVICE, MARKETING = "service", "marketing"
COMMON = frozenset({"member", "program"})  # member.name, member.member_id; program.name


@dataclass(frozen=True)
class Kind:
    name: str
    category: str  # service | marketing
    trigger: str  # the detail-type that sends it
    placeholders: frozenset[str]


KINDS = {kind.name: kind for kind in (
    Kind("welcome", SERVICE, "MemberEnrolled", COMMON | {"points"}),
    Kind("points_expiring", SERVICE, "PointsExpiringSoon", COMMON | {"points", "expires_on"}),
    Kind("tier_changed", SERVICE, "TierChanged", COMMON | {"tier", "previous_tier"}),
    Kind("reward_redeemed", SERVICE, "PointsRedeemed", COMMON | {"points", "reward_id", "voucher_code"}),
    # The daily job's birthday bonus entry (once per member and year) announces the birthday.
    Kind("birthday", MARKETING, "BirthdayBonusCredited", COMMON | {"points"}),
    # The nightly snapshot announces each personalised offer that started to each member it is offered to, once.
    Kind("offer_available", MARKETING, "OfferAvailable", COMMON | {"offer"}),
)}


@dataclass(frozen=True)
class Trigger:
    kind: Kind
    event_id: str  # a message is sent at most once per triggering event
    member_id: str | None
    values: dict[str, Any]


def triggered(detail_type: str, detail: dict[str, Any]) -> Trigger | None:
    """The message a domain event asks for, with the values its template gets (besides member and program)."""
    event_id = detail.get("event_id")
    if not event_id:
        return None
    if detail_type == "MemberEnrolled":
        return Trigger(KINDS["welcome"], event_id, detail["member_id"], {"points": detail.get("points_balance", 0)})
    if detail_type == "PointsExpiringSoon":
        return Trigger(KINDS["points_expiring"], event_id, detail["member_id"],
                       {"points": detail["points"], "expires_on": str(detail["expires_at"])[:10]})
    if detail_type == "TierChanged":
        return Trigger(KINDS["tier_changed"], event_id, detail["member_id"],
                       {"tier": detail["to"], "previous_tier": detail.get("from")})
    if detail_type == "BirthdayBonusCredited":
        return Trigger(KINDS["birthday"], event_id, detail["member_id"], {"points": detail["points"]})
    if detail_type == "PointsRedeemed" and detail.get("voucher_code"):  # a discount without a voucher says nothing
        return Trigger(KINDS["reward_redeemed"], event_id, detail["member_id"],
                       {"points": detail["points"], "reward_id": detail.get("reward_id"), "voucher_code": detail["voucher_code"]})
    if detail_type == "OfferAvailable":  # offer.ends_at: the date (UTC) it ends, or None
        ends_at = detail.get("ends_at")
        return Trigger(KINDS["offer_available"], event_id, detail["member_id"],
                       {"offer": {"campaign_id": detail["campaign_id"], "name": detail["name"],
                                  "description": detail.get("description") or "", "ends_at": str(ends_at)[:10] if ends_at else None}})
    return None
