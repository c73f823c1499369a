"""The earning rules: a purchase's points (with the campaigns' award), a referral's bonuses, a return, an
adjustment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from loyalty.domain import errors, facts
from loyalty.domain.basket import base_points, eligible
from loyalty.domain.ledger import (
    MAX_CLOCK_SKEW,
    MAX_PURCHASE_AGE,
    Change,
    available_at,
    bonus_entry,
    brought_up_to_date,
    credit,
    debit,
    ensure_active,
    forget_old_qualifying,
    hold,
    qualifying_points,
    record,
)
from loyalty.domain.model import (
    BLOCKED,
    ERASED,
    Entry,
    LimitCut,
    Member,
    PointsLine,
    Purchase,
    pending_key,
)
from loyalty.domain.calendar import end_of_month, month_key
from loyalty.program import Program

if TYPE_CHECKING:  # the campaign engine is loaded by the rules that evaluate campaigns, when they run
    from collections.abc import Mapping, Sequence

    from loyalty.domain.segments import Segment
    from loyalty.domain.campaigns.document import Campaign
    from loyalty.domain.campaigns.engine import Award, CounterKey, Increment, Usage

# ------------------------------------------------------------------ earn


def purchase_points(program: Program, amount_minor: int, tier_name: str) -> tuple[int, int]:
    """(qualifying points, points credited): base points rounded down, then the tier multiplier, rounded down."""
    base = base_points(amount_minor, program.earn.points_per_unit, program.earn.unit_minor)
    multiplier = program.tier(tier_name).earn_multiplier
    credited = int((Decimal(base) * multiplier).to_integral_value(rounding=ROUND_FLOOR))
    return base, credited


def referral_due(member: Member) -> bool:
    return bool(member.referred_by) and not member.referral_bonus_paid and member.purchases == 0


@dataclass(frozen=True)
class CampaignSelection:
    """The active campaigns one purchase is judged against, at most MAX_CAMPAIGNS_PER_PURCHASE of them.

    `considered`: the first in order (priority, then id) that the purchase's time, basket and order facts
    admit, whose limit counters are read with the member; `overflow`: the others that might have applied.
    The bound keeps the counters in the read and the one transaction of an earn (a transaction holds at most
    100 items; a campaign has at most 4 counters: per member or in all, per day or over the campaign; a counter
    in all is read as its CAMPAIGN_SHARDS shards, so campaigns with one member counter and one in all each still
    read in one BatchGetItem of 100 keys, and more counters page the read).
    """

    considered: tuple[Campaign, ...]
    overflow: tuple[Campaign, ...]
    counters: tuple[CounterKey, ...]


MAX_CAMPAIGNS_PER_PURCHASE = 16


def select_campaigns(campaigns: list[Campaign], program: Program, purchase: Purchase, now: datetime) -> CampaignSelection:
    from loyalty.domain.campaigns.engine import counter_keys, may_apply

    earning = eligible(purchase, program.earn.excluded_categories)
    possible = [
        campaign for campaign in sorted(campaigns, key=lambda campaign: campaign.order)
        if may_apply(campaign, purchase, earning, now, time_zone=program.time_zone,
                     points_per_unit=program.earn.points_per_unit, unit_minor=program.earn.unit_minor)
    ]
    considered = tuple(possible[:MAX_CAMPAIGNS_PER_PURCHASE])
    return CampaignSelection(considered, tuple(possible[MAX_CAMPAIGNS_PER_PURCHASE:]),
                             counter_keys(considered, purchase.occurred_at or now, time_zone=program.time_zone))


def _award(
    member: Member, program: Program, purchase: Purchase, now: datetime, campaigns: list[Campaign],
    counters: dict[CounterKey, Usage], segments: Sequence[Segment] = (), rfm: facts.RfmBoundaries | None = None,
) -> Award:
    """The campaigns' award for the member as before the purchase; the overflow is reported as not applied.
    `segments`: the program's segments; those the campaigns' audiences name are evaluated on the member's facts."""
    from loyalty.domain.campaigns.engine import Award, NotApplied, evaluate, hidden_from
    from loyalty.domain.segments import segments_of

    selection = select_campaigns(campaigns, program, purchase, now)
    skipped = {campaign.campaign_id for campaign in selection.overflow}
    named = {segment_id for campaign in campaigns if campaign.audience for segment_id in campaign.audience.segment_ids}
    award = evaluate(
        [campaign for campaign in campaigns if campaign.campaign_id not in skipped], purchase, member, counters, now,
        time_zone=program.time_zone, eligible=eligible(purchase, program.earn.excluded_categories),
        points_per_unit=program.earn.points_per_unit, unit_minor=program.earn.unit_minor,
        segments=segments_of(member, [segment for segment in segments if segment.segment_id in named],
                             purchase.occurred_at or now, program.time_zone, rfm) if named else frozenset(),
        rfm=rfm,
    )
    if not skipped:
        return award
    reason = (f"more than {MAX_CAMPAIGNS_PER_PURCHASE} campaigns could apply to this purchase: "
              f"only the first {MAX_CAMPAIGNS_PER_PURCHASE} in order (priority, then id) are considered")
    overflow = tuple(NotApplied(campaign.campaign_id, reason) for campaign in selection.overflow
                     if not hidden_from(campaign, member))
    return Award(award.points, award.breakdown, award.limited, award.not_applied + overflow, award.increments)


def campaign_increments(award: Award | None) -> tuple[Increment, ...]:
    """The counters an earn adds to: its limits' (with their ceilings), and every applied campaign's total
    (campaign, in all, over the campaign), which is its `points_awarded` and `times_applied`. Counters in all are
    whole here: `campaigns.spread` splits them over their shards."""
    if award is None:
        return ()
    from loyalty.domain.campaigns.engine import CounterKey, Increment

    increments = list(award.increments)
    for line in award.breakdown:
        total = CounterKey(line.campaign_id, "campaign", "campaign")
        if all(increment.key != total for increment in increments):
            increments.append(Increment(total, line.points, 1, None, None))
    return tuple(increments)


def earn(
    member: Member, program: Program, purchase: Purchase, now: datetime, *, request_hash: str,
    referrer: Member | None = None, campaigns: list[Campaign] | None = None,
    counters: dict[CounterKey, Usage] | None = None, segments: Sequence[Segment] = (), rfm: facts.RfmBoundaries | None = None,
    program_version: int | None = None, tier_versions: Mapping[str, int] | None = None,
) -> Change:
    """Credit a purchase. Pass `referrer` when `referral_due(member)`: both then get the referral bonus, once.

    Points: base points on the basket's eligible amount, the tier's extra, then what the active `campaigns`
    give (judged on the member as before the purchase, with the limit `counters` read for
    `select_campaigns(...).counters`). The entry's breakdown adds up to its points.

    `program_version`: the version `program` is (in force at occurred_at), on the entry and each breakdown line;
    `tier_versions`: the version whose multiplier each tier earns (`ProgramHistory.multiplier_versions`: a tier
    added since the purchase's version earns today's), for the tier line; absent: `program_version`.
    """
    if purchase.currency != program.currency:
        raise errors.CurrencyMismatch(
            f"this program earns in {program.currency}, not {purchase.currency}", currency=program.currency
        )
    purchased_at = purchase.occurred_at or now
    if purchased_at > now + MAX_CLOCK_SKEW or purchased_at < now - MAX_PURCHASE_AGE:
        raise errors.OccurredAtOutOfRange(
            f"occurred_at must be within the last {MAX_PURCHASE_AGE.days} days and not in the future"
        )
    ensure_active(member)
    member, moves = brought_up_to_date(member, program, now)
    referral = referral_due(member) and program.bonuses.referral > 0 and referrer is not None
    award = _award(member, program, purchase, now, campaigns or [], counters or {}, segments, rfm)
    member = member.copy()
    tier_before = member.tier
    qualifying, credited = purchase_points(
        program, eligible(purchase, program.earn.excluded_categories).amount_minor, member.tier,
    )
    points = credited + award.points
    tier_version = (tier_versions or {}).get(member.tier, program_version)
    breakdown = (PointsLine("base", qualifying, None, program_version),
                 *([PointsLine("tier", credited - qualifying, None, tier_version)] if credited != qualifying else []),
                 *(PointsLine("campaign", line.points, line.campaign_id, program_version) for line in award.breakdown))
    available = available_at(program, purchased_at)
    if available is None or available <= now:  # a purchase reported after its window is available at once
        credited_at = available or purchased_at
        expiry_month = credit(member, program, points, credited_at)
        earn_month = month_key(credited_at)
        member.qualifying[earn_month] = member.qualifying.get(earn_month, 0) + qualifying
    else:
        expiry_month = hold(member, program, points, qualifying, available)
    member.purchases += 1
    facts.note_purchase(member, amount_minor=purchase.amount_minor, occurred_at=purchased_at, items=purchase.items,
                        now=now, time_zone=program.time_zone)
    forget_old_qualifying(member, now)
    reached = program.tier_for(qualifying_points(member, program, now))
    if program.tier_rank(reached.name) > program.tier_rank(member.tier):
        member.tier = reached.name  # upgrades at once; downgrades only in the tier review
    earn_entry = record(
        member, now, "earn", purchase.transaction_id, points, request_hash=request_hash,
        transaction_id=purchase.transaction_id, amount_minor=purchase.amount_minor, currency=purchase.currency,
        store_id=purchase.store_id, channel=purchase.channel, occurred_at=purchased_at,
        qualifying_points=qualifying, expires_at=end_of_month(expiry_month), available_at=available,
        tier_after=member.tier, tier_changed=member.tier != tier_before,
        refunded_minor=0, points_reversed=0, qualifying_reversed=0, items=purchase.items or None,
        base_points=qualifying, breakdown=breakdown, program_version=program_version,
        limited=tuple(LimitCut(cut.campaign_id, cut.wanted, cut.given) for cut in award.limited),
    )
    change = Change([member], [earn_entry], tier_moves=moves, award=award)
    if member.tier != tier_before:
        change.tier_moves.append((member.member_id, tier_before, member.tier))
    if referral:
        assert referrer is not None
        bonus = program.bonuses.referral
        member.referral_bonus_paid = True
        referrer, referrer_moves = brought_up_to_date(referrer, program, now)
        referrer = referrer.copy()
        change.entries.append(bonus_entry(member, program, now, "referral", f"referral#{referrer.member_id}", bonus, available))
        if referrer.status not in (BLOCKED, ERASED):  # a blocked (or erased) referrer is credited nothing; the new member still is
            change.members.append(referrer)
            change.tier_moves.extend(referrer_moves)
            change.entries.append(bonus_entry(referrer, program, now, "referral", f"referral#{member.member_id}", bonus,
                                         available))
    return change


# ------------------------------------------------------------------ returns


def return_purchase(
    member: Member, purchase: Entry, *, return_id: str, amount_minor: int, now: datetime, request_hash: str,
    program: Program | None = None,
) -> tuple[Change, Entry]:
    """Take back points in proportion to the refunded share. Returns the change and the updated purchase entry.

    Shares are computed on the cumulative refund so several partial returns add up to
    exactly the points of a full return. What the balance cannot cover is recorded, not owed.
    Points still pending are taken from the purchase's pending lot first, then from the balance; the
    qualifying points of a purchase returned inside its window never count. `program`: settle first.
    """
    assert purchase.amount_minor and purchase.refunded_minor is not None
    refunded = purchase.refunded_minor + amount_minor
    if refunded > purchase.amount_minor:
        raise errors.RefundExceedsPurchase(
            f"refunds would total {refunded}, more than the purchase's {purchase.amount_minor}",
            refundable_minor=purchase.amount_minor - purchase.refunded_minor,
        )
    points_due = purchase.points * refunded // purchase.amount_minor - (purchase.points_reversed or 0)
    qualifying_due = (purchase.qualifying_points or 0) * refunded // purchase.amount_minor - (purchase.qualifying_reversed or 0)

    member, moves = brought_up_to_date(member, program, now)
    member = member.copy()
    key = pending_key(purchase.available_at) if purchase.available_at else None
    from_pending = min(points_due, member.pending.get(key, 0)) if key else 0
    if from_pending:
        member.pending[key] -= from_pending
    recovered = from_pending + min(points_due - from_pending, member.balance)
    expiry_month = month_key(purchase.expires_at) if purchase.expires_at else None
    debit(member, recovered - from_pending, first=expiry_month)
    member.points_returned += recovered
    if key in member.pending_qualifying:  # still pending: those qualifying points never count
        member.pending_qualifying[key] = max(0, member.pending_qualifying[key] - qualifying_due)
    else:
        earn_month = month_key(purchase.available_at or purchase.occurred_at or purchase.created_at)
        if earn_month in member.qualifying:
            member.qualifying[earn_month] = max(0, member.qualifying[earn_month] - qualifying_due)
    for held in (member.pending, member.pending_qualifying):
        if key in held and not held[key]:
            del held[key]
    facts.note_return(member, amount_minor=amount_minor, purchased_at=purchase.occurred_at or purchase.created_at,
                      refunded_in_full=refunded == purchase.amount_minor, now=now,
                      time_zone=program.time_zone if program else "UTC")

    entry = record(
        member, now, "return", return_id, -recovered, request_hash=request_hash,
        transaction_id=purchase.transaction_id, return_id=return_id, amount_minor=amount_minor,
        points_unrecovered=points_due - recovered, pending_consumed={key: from_pending} if from_pending else None,
    )
    updated_purchase = Entry(**purchase.__dict__)
    updated_purchase.refunded_minor = refunded
    updated_purchase.points_reversed = (purchase.points_reversed or 0) + points_due
    updated_purchase.qualifying_reversed = (purchase.qualifying_reversed or 0) + qualifying_due
    return Change([member], [entry], tier_moves=moves), updated_purchase


# ------------------------------------------------------------------ back office


def adjust(
    member: Member, program: Program, now: datetime, *, idempotency_key: str, points: int, reason: str, actor: str,
    request_hash: str,
) -> Change:
    """An admin's correction: a credit goes into the lot of its expiry month like earned points (it counts as
    issued, not as qualifying for tiers); a debit takes the soonest-expiring points first and never more than
    the balance. A blocked member may be debited but not credited."""
    assert points != 0
    member, moves = brought_up_to_date(member, program, now)
    if points > 0:
        ensure_active(member)
    elif -points > member.balance:
        raise errors.InsufficientPoints(
            f"this debits {-points} points; the balance is {member.balance}", balance=member.balance, needed=-points
        )
    member = member.copy()
    extra: dict[str, object] = {}
    if points > 0:
        extra["expires_at"] = end_of_month(credit(member, program, points, now))
    else:
        extra["lots_consumed"] = debit(member, -points)
    entry = record(member, now, "adjust", idempotency_key, points, request_hash=request_hash, reason=reason,
                    actor=actor, **extra)
    return Change([member], [entry], tier_moves=moves)

