"""The loyalty rules. Each function takes plain values and returns the new state.

Every balance change goes through `_record`, which appends a ledger entry carrying
the balance after it, so `balance == sum(entry points)` holds by construction.
Points live in lots keyed by expiry month; every debit takes the soonest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from loyalty.domain import errors
from loyalty.domain.basket import base_points, eligible
from loyalty.domain.birthday import bonus_due, bonus_ref
from loyalty.domain.model import (
    BLOCKED,
    ERASED,
    Entry,
    EntryRef,
    LimitCut,
    Member,
    PointsLine,
    Profile,
    Purchase,
    Redemption,
    Reward,
    new_code,
    new_entry_id,
    pending_key,
    pending_time,
)
from loyalty.domain.months import add_months, end_of_month, month_key, window
from loyalty.program import Program

if TYPE_CHECKING:  # the campaign engine is loaded by the rules that evaluate campaigns, when they run
    from loyalty.domain.campaigns import Award, Campaign, CounterKey, Increment, Usage

# A purchase may be reported late (a terminal offline for a while) but not from the future.
MAX_PURCHASE_AGE = timedelta(days=30)
MAX_CLOCK_SKEW = timedelta(minutes=5)
REFERRAL_CODE_LENGTH = 8
VOUCHER_CODE_LENGTH = 10


@dataclass
class Change:
    """The result of a rule: members after it and the ledger entries that explain it."""

    members: list[Member]
    entries: list[Entry] = field(default_factory=list)
    tier_moves: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (member_id, from, to); None: not in
    award: Award | None = None  # earn: what the campaigns gave, and the limit counters to add to

    @property
    def member(self) -> Member:
        return self.members[0]

    @property
    def entry(self) -> Entry:
        return self.entries[0]


def _record(member: Member, now: datetime, type_: str, ref_id: str, points: int, **fields: object) -> Entry:
    """The entry is dated `now` as given (never a later time borrowed from an earlier entry); its
    order among the member's entries is `seq`, the member's version, which every write moves.

    The activity index lists by time (it is filtered by date): an entry whose clock reads earlier than the
    member's latest entry is listed at that entry's time (`ledger_at`), then by `seq`, so the feed's order is
    the order the entries were applied in."""
    member.version += 1
    listed_at = member.ledger_at if member.ledger_at is not None and member.ledger_at > now else None
    member.ledger_at = listed_at or now
    return Entry(
        member_id=member.member_id, ref=EntryRef(type_, ref_id), seq=member.version, entry_id=new_entry_id(),
        type=type_, points=points, balance_after=member.balance, created_at=now, ledger_at=listed_at, **fields,
    )


def _credit(member: Member, program: Program, points: int, earned_at: datetime) -> str:
    """Add points to the lot of their expiry month; returns that month."""
    expiry_month = add_months(month_key(earned_at), program.expiry.months)
    if points:
        member.lots[expiry_month] = member.lots.get(expiry_month, 0) + points
        member.balance += points
        member.points_earned += points
    return expiry_month


def _debit(member: Member, points: int, first: str | None = None) -> dict[str, int]:
    """Take points from lots, the `first` month then soonest-expiring; returns what came from where."""
    order = sorted(member.lots)
    if first in member.lots:
        order.remove(first)
        order.insert(0, first)
    taken: dict[str, int] = {}
    left = points
    for month in order:
        if not left:
            break
        take = min(left, member.lots[month])
        taken[month] = take
        left -= take
        member.lots[month] -= take
        if not member.lots[month]:
            del member.lots[month]
    if left:
        raise AssertionError("debit larger than the balance")  # callers check first
    member.balance -= points
    return taken


def _bonus(
    member: Member, program: Program, now: datetime, kind: str, ref_id: str, points: int,
    available: datetime | None = None,
) -> Entry:
    """A bonus, available at once unless `available` (the referral bonus of a purchase whose points are pending)."""
    if available is not None and available > now:
        expiry_month = _hold(member, program, points, 0, available)
    else:
        expiry_month = _credit(member, program, points, available or now)
    return _record(member, now, "bonus", ref_id, points, bonus=kind, expires_at=end_of_month(expiry_month),
                   available_at=available)


# ------------------------------------------------------------------ pending points


def available_at(program: Program, purchased_at: datetime) -> datetime | None:
    """When a purchase's points become spendable: None when the program holds nothing (`earn.pending_days` 0)."""
    if not program.earn.pending_days:
        return None
    return (purchased_at + timedelta(days=program.earn.pending_days)).replace(microsecond=0)


def _hold(member: Member, program: Program, points: int, qualifying: int, available: datetime) -> str:
    """Put points (and the qualifying points they carry) in the pending lot of `available`; returns the
    expiry month they will have, counted from when they become available."""
    key = pending_key(available)
    if points:
        member.pending[key] = member.pending.get(key, 0) + points
        member.points_earned += points
    if qualifying:
        member.pending_qualifying[key] = member.pending_qualifying.get(key, 0) + qualifying
    return add_months(month_key(available), program.expiry.months)


def _release(member: Member, program: Program, now: datetime) -> bool:
    """Move every pending lot whose time has come (available_at <= now) into the lots, its expiry month and its
    qualifying month counted from available_at. In place; returns whether anything moved."""
    due = sorted(key for key in {*member.pending, *member.pending_qualifying} if pending_time(key) <= now)
    for key in due:
        available = pending_time(key)
        points, qualifying = member.pending.pop(key, 0), member.pending_qualifying.pop(key, 0)
        if points:
            expiry_month = add_months(month_key(available), program.expiry.months)
            member.lots[expiry_month] = member.lots.get(expiry_month, 0) + points
            member.balance += points
        if qualifying:
            month = month_key(available)
            member.qualifying[month] = member.qualifying.get(month, 0) + qualifying
    if due:  # a pending key gone at or before this was released; one gone after it was taken back by a return
        member.released_through = max(due)
    return bool(due)


def _upgrade(member: Member, program: Program, now: datetime) -> tuple[str, str | None, str | None] | None:
    """Raise the tier to what qualifying points reach (in place; downgrades only in the tier review)."""
    reached = program.tier_for(qualifying_points(member, program, now))
    if program.tier_rank(reached.name) <= program.tier_rank(member.tier):
        return None
    move = (member.member_id, member.tier, reached.name)
    member.tier = reached.name
    return move


def settle(member: Member, program: Program, now: datetime) -> Change | None:
    """Make the pending points whose available_at has come available (and their qualifying points count, which
    may lift the tier). No ledger entry: the points are on the ledger since the earn, so
    `balance + sum(pending) == sum(entry points)` holds throughout. None when nothing is due."""
    change = _advance(member, program, now)
    if change:
        _touch(change.member)
    return change


def _advance(member: Member, program: Program, now: datetime) -> Change | None:
    """`settle` without moving the version: for a rule whose own entry or write moves it."""
    if not any(pending_time(key) <= now for key in {*member.pending, *member.pending_qualifying}):
        return None
    member = member.copy()
    _release(member, program, now)
    move = _upgrade(member, program, now)
    return Change([member], tier_moves=[move] if move else [])


def _settled(member: Member, program: Program | None, now: datetime) -> tuple[Member, list]:
    """The member as of `now` and the tier moves that took: what every write starts from."""
    change = _advance(member, program, now) if program is not None else None
    return (change.member, change.tier_moves) if change else (member, [])


def points_pending(member: Member) -> int:
    return sum(member.pending.values())


def pending_lots(member: Member) -> list[tuple[datetime, int]]:
    """Every pending lot, soonest first, as (available_at, points)."""
    return [(pending_time(key), points) for key, points in sorted(member.pending.items()) if points]


def ensure_active(member: Member) -> None:
    """Earning, redeeming and being credited stop while a member is blocked (reads and debits go on)."""
    if member.status == BLOCKED:
        raise errors.MemberBlocked(f"member {member.member_id} is blocked", member_id=member.member_id)


def qualifying_points(member: Member, program: Program, now: datetime) -> int:
    months = window(now, program.qualifying_window_months)
    return sum(points for month, points in member.qualifying.items() if month in months)


# ------------------------------------------------------------------ enroll


def enroll(
    member_id: str, profile: Profile, program: Program, now: datetime, *, sub: str | None = None,
    referred_by: str | None = None, referral_code: str | None = None,
) -> Change:
    """A new member with the welcome bonus. `sub`: the token subject it belongs to (app members)."""
    member = Member(
        member_id=member_id, email=profile.email.strip().lower(), enrolled_at=now, channel=profile.channel,
        tier=program.base_tier.name, referral_code=referral_code or new_code(REFERRAL_CODE_LENGTH),
        name=profile.name, phone=profile.phone, birthday=profile.birthday, marketing_opt_in=profile.marketing_opt_in,
        sub=sub, referred_by=referred_by,
    )
    change = Change([member], tier_moves=[(member_id, None, member.tier)])
    if program.bonuses.welcome:
        change.entries.append(_bonus(member, program, now, "welcome", "welcome", program.bonuses.welcome))
    return change


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
    from loyalty.domain.campaigns import counter_keys, may_apply

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
    counters: dict[CounterKey, Usage],
) -> Award:
    """The campaigns' award for the member as before the purchase; the overflow is reported as not applied."""
    from loyalty.domain.campaigns import Award, NotApplied, evaluate

    selection = select_campaigns(campaigns, program, purchase, now)
    skipped = {campaign.campaign_id for campaign in selection.overflow}
    award = evaluate(
        [campaign for campaign in campaigns if campaign.campaign_id not in skipped], purchase, member, counters, now,
        time_zone=program.time_zone, eligible=eligible(purchase, program.earn.excluded_categories),
        points_per_unit=program.earn.points_per_unit, unit_minor=program.earn.unit_minor,
    )
    if not skipped:
        return award
    reason = (f"more than {MAX_CAMPAIGNS_PER_PURCHASE} campaigns could apply to this purchase: "
              f"only the first {MAX_CAMPAIGNS_PER_PURCHASE} in order (priority, then id) are considered")
    overflow = tuple(NotApplied(campaign.campaign_id, reason) for campaign in selection.overflow)
    return Award(award.points, award.breakdown, award.limited, award.not_applied + overflow, award.increments)


def campaign_increments(award: Award | None) -> tuple[Increment, ...]:
    """The counters an earn adds to: its limits' (with their ceilings), and every applied campaign's total
    (campaign, in all, over the campaign), which is its `points_awarded` and `times_applied`. Counters in all are
    whole here: `campaigns.spread` splits them over their shards."""
    if award is None:
        return ()
    from loyalty.domain.campaigns import CounterKey, Increment

    increments = list(award.increments)
    for line in award.breakdown:
        total = CounterKey(line.campaign_id, "campaign", "campaign")
        if all(increment.key != total for increment in increments):
            increments.append(Increment(total, line.points, 1, None, None))
    return tuple(increments)


def earn(
    member: Member, program: Program, purchase: Purchase, now: datetime, *, request_hash: str,
    referrer: Member | None = None, campaigns: list[Campaign] | None = None,
    counters: dict[CounterKey, Usage] | None = None,
) -> Change:
    """Credit a purchase. Pass `referrer` when `referral_due(member)`: both then get the referral bonus, once.

    Points: base points on the basket's eligible amount, the tier's extra, then what the active `campaigns`
    give (judged on the member as before the purchase, with the limit `counters` read for
    `select_campaigns(...).counters`). The entry's breakdown adds up to its points.
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
    member, moves = _settled(member, program, now)
    referral = referral_due(member) and program.bonuses.referral > 0 and referrer is not None
    award = _award(member, program, purchase, now, campaigns or [], counters or {})
    member = member.copy()
    tier_before = member.tier
    qualifying, credited = purchase_points(
        program, eligible(purchase, program.earn.excluded_categories).amount_minor, member.tier,
    )
    points = credited + award.points
    breakdown = (PointsLine("base", qualifying), *([PointsLine("tier", credited - qualifying)] if credited != qualifying else []),
                 *(PointsLine("campaign", line.points, line.campaign_id) for line in award.breakdown))
    available = available_at(program, purchased_at)
    if available is None or available <= now:  # a purchase reported after its window is available at once
        credited_at = available or purchased_at
        expiry_month = _credit(member, program, points, credited_at)
        earn_month = month_key(credited_at)
        member.qualifying[earn_month] = member.qualifying.get(earn_month, 0) + qualifying
    else:
        expiry_month = _hold(member, program, points, qualifying, available)
    member.purchases += 1
    reached = program.tier_for(qualifying_points(member, program, now))
    if program.tier_rank(reached.name) > program.tier_rank(member.tier):
        member.tier = reached.name  # upgrades at once; downgrades only in the tier review
    earn_entry = _record(
        member, now, "earn", purchase.transaction_id, points, request_hash=request_hash,
        transaction_id=purchase.transaction_id, amount_minor=purchase.amount_minor, currency=purchase.currency,
        store_id=purchase.store_id, channel=purchase.channel, occurred_at=purchased_at,
        qualifying_points=qualifying, expires_at=end_of_month(expiry_month), available_at=available,
        tier_after=member.tier, tier_changed=member.tier != tier_before,
        refunded_minor=0, points_reversed=0, qualifying_reversed=0, items=purchase.items or None,
        base_points=qualifying, breakdown=breakdown,
        limited=tuple(LimitCut(cut.campaign_id, cut.wanted, cut.given) for cut in award.limited),
    )
    change = Change([member], [earn_entry], tier_moves=moves, award=award)
    if member.tier != tier_before:
        change.tier_moves.append((member.member_id, tier_before, member.tier))
    if referral:
        assert referrer is not None
        bonus = program.bonuses.referral
        member.referral_bonus_paid = True
        referrer, referrer_moves = _settled(referrer, program, now)
        referrer = referrer.copy()
        change.entries.append(_bonus(member, program, now, "referral", f"referral#{referrer.member_id}", bonus, available))
        if referrer.status not in (BLOCKED, ERASED):  # a blocked (or erased) referrer is credited nothing; the new member still is
            change.members.append(referrer)
            change.tier_moves.extend(referrer_moves)
            change.entries.append(_bonus(referrer, program, now, "referral", f"referral#{member.member_id}", bonus,
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

    member, moves = _settled(member, program, now)
    member = member.copy()
    key = pending_key(purchase.available_at) if purchase.available_at else None
    from_pending = min(points_due, member.pending.get(key, 0)) if key else 0
    if from_pending:
        member.pending[key] -= from_pending
    recovered = from_pending + min(points_due - from_pending, member.balance)
    expiry_month = month_key(purchase.expires_at) if purchase.expires_at else None
    _debit(member, recovered - from_pending, first=expiry_month)
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

    entry = _record(
        member, now, "return", return_id, -recovered, request_hash=request_hash,
        transaction_id=purchase.transaction_id, return_id=return_id, amount_minor=amount_minor,
        points_unrecovered=points_due - recovered, pending_consumed={key: from_pending} if from_pending else None,
    )
    updated_purchase = Entry(**purchase.__dict__)
    updated_purchase.refunded_minor = refunded
    updated_purchase.points_reversed = (purchase.points_reversed or 0) + points_due
    updated_purchase.qualifying_reversed = (purchase.qualifying_reversed or 0) + qualifying_due
    return Change([member], [entry], tier_moves=moves), updated_purchase


# ------------------------------------------------------------------ redeem


def tier_allows(reward: Reward, program: Program, tier: str | None) -> bool:
    """Whether a member of `tier` may redeem the reward (None: staff, who see every reward as allowed)."""
    return reward.min_tier is None or tier is None or program.tier_rank(tier) >= program.tier_rank(reward.min_tier)


def in_stock(reward: Reward) -> bool:
    return reward.stock is None or reward.stock > 0


def in_window(reward: Reward, now: datetime) -> bool:
    """Whether `now` is in the reward's validity window [starts_at, ends_at)."""
    return (reward.starts_at is None or reward.starts_at <= now) and (reward.ends_at is None or now < reward.ends_at)


def reward_available(reward: Reward, program: Program, tier: str | None, now: datetime | None = None) -> bool:
    """What the catalog shows as `available` for a caller of `tier` (at `now`, when given)."""
    return (reward.active and tier_allows(reward, program, tier) and in_stock(reward)
            and (now is None or in_window(reward, now)))


def check_reward(reward: Reward, program: Program) -> None:
    """What a catalog reward must satisfy beyond its schema: a tier restriction names a tier of the program."""
    if reward.min_tier is not None and reward.min_tier not in {tier.name for tier in program.tiers}:
        names = ", ".join(tier.name for tier in program.tiers)
        raise errors.UnknownTier(f"min_tier must be one of the program's tiers: {names}", min_tier=reward.min_tier)


def redeem(
    member: Member, program: Program, now: datetime, *, idempotency_key: str, request_hash: str,
    reward: Reward | None = None, points: int | None = None, redeemed_before: int = 0,
) -> Change:
    """Spend points on a catalog reward or on a discount of `points × point_value_minor`.

    redeemed_before: how many times the member redeemed this reward already (its per-member limit).
    Only available points are spent (pending ones are not in the balance).
    """
    ensure_active(member)
    member, moves = _settled(member, program, now)
    if reward is not None:
        if not reward.active:
            raise errors.RewardNotFound(f"reward {reward.reward_id} is not available")
        if not in_window(reward, now):
            raise errors.RewardNotAvailable(
                f"{reward.name} is not redeemable now", reward_id=reward.reward_id,
                starts_at=reward.starts_at.isoformat() if reward.starts_at else None,
                ends_at=reward.ends_at.isoformat() if reward.ends_at else None,
            )
        if reward.per_member_limit is not None and redeemed_before >= reward.per_member_limit:
            raise errors.RewardLimitReached(
                f"{reward.name} may be redeemed {reward.per_member_limit} time(s) per member",
                reward_id=reward.reward_id, per_member_limit=reward.per_member_limit,
            )
        if not tier_allows(reward, program, member.tier):
            raise errors.TierTooLow(
                f"{reward.name} is for {reward.min_tier} members and above", min_tier=reward.min_tier, tier=member.tier
            )
        if not in_stock(reward):
            raise errors.OutOfStock(f"{reward.name} is out of stock", reward_id=reward.reward_id)
        cost, value = reward.points, reward.value_minor
    else:
        assert points is not None and points > 0
        cost, value = points, points * program.point_value_minor
    if cost > member.balance:
        raise errors.InsufficientPoints(
            f"this needs {cost} points; the balance is {member.balance}", balance=member.balance, needed=cost
        )
    member = member.copy()
    consumed = _debit(member, cost)
    member.points_redeemed += cost
    entry = _record(
        member, now, "redeem", idempotency_key, -cost, request_hash=request_hash,
        reward_id=reward.reward_id if reward else None, voucher_code=new_code(VOUCHER_CODE_LENGTH),
        value_minor=value, lots_consumed=consumed,
    )
    return Change([member], [entry], tier_moves=moves)


# ------------------------------------------------------------------ back office


def adjust(
    member: Member, program: Program, now: datetime, *, idempotency_key: str, points: int, reason: str, actor: str,
    request_hash: str,
) -> Change:
    """An admin's correction: a credit goes into the lot of its expiry month like earned points (it counts as
    issued, not as qualifying for tiers); a debit takes the soonest-expiring points first and never more than
    the balance. A blocked member may be debited but not credited."""
    assert points != 0
    member, moves = _settled(member, program, now)
    if points > 0:
        ensure_active(member)
    elif -points > member.balance:
        raise errors.InsufficientPoints(
            f"this debits {-points} points; the balance is {member.balance}", balance=member.balance, needed=-points
        )
    member = member.copy()
    extra: dict[str, object] = {}
    if points > 0:
        extra["expires_at"] = end_of_month(_credit(member, program, points, now))
    else:
        extra["lots_consumed"] = _debit(member, -points)
    entry = _record(member, now, "adjust", idempotency_key, points, request_hash=request_hash, reason=reason,
                    actor=actor, **extra)
    return Change([member], [entry], tier_moves=moves)


def set_status(member: Member, status: str, now: datetime, reason: str | None = None) -> Change | None:
    """Block (with the admin's reason) or unblock; None when the member already has that status (nothing to write)."""
    if member.status == status:
        return None
    member = member.copy()
    member.status, member.status_changed_at = status, now
    member.blocked_reason = reason if status == BLOCKED else None
    _touch(member)
    return Change([member])


def erase(member: Member, now: datetime) -> Change:
    """Erase a member: every personal field goes, the balance is forfeited with an `erase` entry (lots emptied),
    and the member leaves the tier distribution. What stays is pseudonymous: amounts, dates, tier, counters.
    The caller answers a member already erased without calling this (erasure is idempotent)."""
    member = member.copy()
    forfeited, lots_held, pending_held = member.balance + points_pending(member), dict(member.lots), dict(member.pending)
    member.email, member.name, member.phone, member.birthday, member.sub = "", None, None, None, None
    member.marketing_opt_in, member.blocked_reason = False, None
    member.status, member.status_changed_at, member.erased_at = ERASED, now, now
    member.lots, member.balance, member.reminded_lots = {}, 0, []
    member.pending, member.pending_qualifying = {}, {}
    entry = _record(member, now, "erase", "erase", -forfeited, lots_consumed=lots_held,
                    pending_consumed=pending_held or None)
    return Change([member], [entry], tier_moves=[(member.member_id, member.tier, None)])


PROFILE_FIELDS = ("email", "name", "phone", "birthday", "marketing_opt_in")


@dataclass(frozen=True)
class ProfileUpdate:
    """A profile change: the member after it, the names of the fields it changed, and what moves with it."""

    member: Member
    fields: list[str]
    email_before: str | None  # the e-mail whose uniqueness marker moves to member.email; None: no move
    consent_changed: bool  # marketing_opt_in changed: a consent record is kept


def update_profile(member: Member, changes: dict[str, object], now: datetime, *, by_member: bool) -> ProfileUpdate | None:
    """Apply the given fields (None clears name, phone, birthday); None when nothing changes (nothing to write).

    The e-mail is kept lower-case, as enrolled: the same address in another case changes nothing. A member
    sets their birthday once; staff (`by_member` False) may correct or clear it. Blocked members may update.
    """
    wanted = {name: value for name, value in changes.items() if name in PROFILE_FIELDS}
    if isinstance(wanted.get("email"), str):
        wanted["email"] = wanted["email"].strip().lower()
    changed = [name for name in PROFILE_FIELDS if name in wanted and wanted[name] != getattr(member, name)]
    if not changed:
        return None
    if "birthday" in changed and by_member and member.birthday is not None:
        raise errors.BirthdayAlreadySet("the birthday is already set; the store or the program team may correct it",
                                        birthday=member.birthday.isoformat())
    email_before = member.email if "email" in changed else None
    member = member.copy()
    for name in changed:
        setattr(member, name, wanted[name])
    member.profile_updated_at = now
    _touch(member)
    return ProfileUpdate(member, changed, email_before, "marketing_opt_in" in changed)


def cancel_redemption(member: Member, redemption: Redemption, now: datetime, program: Program | None = None) -> Change:
    """Give a redemption's points back to the lots they came from, except lots that have expired since: those
    points are forfeited (counted as expired, as they would have been), never revived. Allowed for a blocked
    member: it undoes a redemption, it is not an earning. `program`: settle pending points first."""
    member, moves = _settled(member, program, now)
    member = member.copy()
    given_back, forfeited = 0, 0
    for month, points in sorted(redemption.lots_consumed.items()):
        if end_of_month(month) < now:
            forfeited += points
        else:
            member.lots[month] = member.lots.get(month, 0) + points
            given_back += points
    member.balance += given_back
    member.points_redeemed -= redemption.points
    member.points_expired += forfeited
    entry = _record(
        member, now, "cancel", redemption.redemption_id, given_back, reward_id=redemption.reward_id,
        voucher_code=redemption.voucher_code, redemption_id=redemption.redemption_id, points_forfeited=forfeited,
    )
    return Change([member], [entry], tier_moves=moves)


# ------------------------------------------------------------------ views


@dataclass(frozen=True)
class TierProgress:
    tier: str
    qualifying_points: int
    next_tier: str | None
    points_to_next_tier: int | None


def tier_progress(member: Member, program: Program, now: datetime) -> TierProgress:
    qualifying = qualifying_points(member, program, now)
    upcoming = program.next_tier(member.tier)
    return TierProgress(
        tier=member.tier,
        qualifying_points=qualifying,
        next_tier=upcoming.name if upcoming else None,
        points_to_next_tier=max(0, upcoming.min_qualifying_points - qualifying) if upcoming else None,
    )


def lots(member: Member) -> list[tuple[datetime, int]]:
    """Every lot, soonest-expiring first, as (expires_at, points)."""
    return [(end_of_month(month), points) for month, points in sorted(member.lots.items()) if points]


def expiring_lots(member: Member, now: datetime, within: timedelta) -> list[tuple[datetime, int]]:
    """Lots that expire before `now + within`, soonest first, as (expires_at, points)."""
    return [(expires_at, points) for expires_at, points in lots(member) if expires_at <= now + within]


# ------------------------------------------------------------------ scheduled jobs


def _touch(member: Member) -> None:
    """A write without a ledger entry moves the version too: a request that read the member before
    then fails its version condition and rereads, instead of writing back what the job changed."""
    member.version += 1


def check_job_time(as_of: datetime, clock_now: datetime) -> None:
    """A job runs as of its event's time, which may replay the past but not run ahead of the clock."""
    if as_of > clock_now + MAX_CLOCK_SKEW:
        raise errors.TimeAhead(
            f"the job's time {as_of.isoformat()} is ahead of the clock ({clock_now.isoformat()})",
            time=as_of.isoformat(), now=clock_now.isoformat(),
        )


def birthday_bonus(member: Member, program: Program, as_of: datetime, recorded_at: datetime | None = None) -> Change | None:
    """The birthday bonus of `as_of`'s local day (`birthday.bonus_due`), or None. The caller skips a member whose
    entry of this year (`birthday.bonus_ref`) exists; the entry is dated `recorded_at` (default `as_of`), like
    the expiry's, and its points expire like the welcome bonus's."""
    if not bonus_due(member, program, as_of):
        return None
    member = member.copy()
    return Change([member], [_bonus(member, program, recorded_at or as_of, "birthday", bonus_ref(as_of, program).id,
                                    program.bonuses.birthday)])


def expire_and_remind(
    member: Member, program: Program, now: datetime, recorded_at: datetime | None = None,
) -> Change | None:
    """Expire every lot past its end of month; remember, once per lot, those expiring within the reminder window.

    `now` is the job's time, which decides what is due; the entry is dated `recorded_at` (default `now`):
    the caller passes the clock's time when the job's is ahead of it, so no entry is dated in the future.
    The reminders are the months added to `reminded_lots` (the event publisher announces them from
    the member's stream). Returns None when there is nothing to do, so a rerun of the same day changes nothing.
    """
    settled = _advance(member, program, now)  # pending points that became available expire like the others
    if settled:
        member = settled.member
    expired = {month: points for month, points in member.lots.items() if end_of_month(month) < now}
    horizon = now + timedelta(days=program.reminder_days)
    due = [
        month for month in member.lots
        if month not in expired and month not in member.reminded_lots and end_of_month(month) <= horizon
    ]
    if not expired and not due:
        if settled:
            _touch(settled.member)
        return settled
    change = settled or Change([member.copy()])
    member = change.member
    if expired:
        total = sum(expired.values())
        for month in expired:
            del member.lots[month]
        member.balance -= total
        member.points_expired += total
        change.entries.append(
            _record(member, recorded_at or now, "expire", max(expired), -total, lots_consumed=expired)
        )
    else:
        _touch(member)
    member.reminded_lots = sorted({*(month for month in member.reminded_lots if month in member.lots), *due})
    return change


def next_due(member: Member, program: Program) -> datetime | None:
    """When the expiry job next has something to do for this member: a reminder, an expiry, or pending points
    becoming available (so that they expire and count for tiers even if nobody touches the member)."""
    moments = [
        end_of_month(month) if month in member.reminded_lots else end_of_month(month) - timedelta(days=program.reminder_days)
        for month in member.lots
    ] + [pending_time(key) for key in {*member.pending, *member.pending_qualifying}]
    return min(moments) if moments else None


@dataclass(frozen=True)
class JobSchedule:
    """What the scheduled jobs must find this member by (the store indexes it; None: not listed)."""

    next_due: datetime | None  # the expiry job: when a reminder or an expiry is next due
    under_review: bool  # the tier review: members above the base tier
    last_review: str | None  # the month of the last review, None if never


def job_schedule(member: Member, program: Program) -> JobSchedule:
    if member.status == ERASED:  # no job has anything to do for an erased member
        return JobSchedule(None, False, None)
    return JobSchedule(next_due(member, program), member.tier != program.base_tier.name, member.tier_reviewed)


def review_tier(member: Member, program: Program, now: datetime) -> Change | None:
    """The monthly tier review: the tier qualifying points earn, lowered at most `max_levels_down` at a time.

    A higher tier is applied too (normally earning has already done it). Returns None when this
    month's review already ran, so a retried delivery changes nothing.
    """
    month = month_key(now)
    if member.tier_reviewed == month or member.status == ERASED:
        return None
    member, moves = _settled(member, program, now)
    member = member.copy()
    member.tier_reviewed = month
    _touch(member)
    current = program.tier_rank(member.tier)
    earned = program.tier_rank(program.tier_for(qualifying_points(member, program, now)).name)
    target = earned if earned >= current else max(earned, current - program.tier_review.max_levels_down)
    change = Change([member], tier_moves=moves)
    if target != current:
        member.tier = program.tiers[target].name
        change.tier_moves.append((member.member_id, program.tiers[current].name, member.tier))
    return change
