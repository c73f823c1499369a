"""The redemption rules: which rewards a member may have, a redemption, its cancel."""

from __future__ import annotations

from datetime import datetime

from loyalty.domain import errors
from loyalty.domain.ledger import (
    VOUCHER_CODE_LENGTH,
    Change,
    brought_up_to_date,
    debit,
    ensure_active,
    record,
)
from loyalty.domain.model import (
    Member,
    Redemption,
    Reward,
    new_code,
)
from loyalty.domain.calendar import end_of_month
from loyalty.domain.facts import note_redemption
from loyalty.program import Program


# ------------------------------------------------------------------ redeem


def tier_allows(reward: Reward, program: Program, tier: str | None) -> bool:
    """Whether a member of `tier` may redeem the reward (None: staff, who see every reward as allowed). A `min_tier`
    that `program` lacks is one a later version adds: nobody holds it yet, so no member may."""
    if reward.min_tier is None or tier is None:
        return True
    known = {name.name for name in program.tiers}
    return reward.min_tier in known and program.tier_rank(tier) >= program.tier_rank(reward.min_tier)


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
    member, moves = brought_up_to_date(member, program, now)
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
    consumed = debit(member, cost)
    member.points_redeemed += cost
    note_redemption(member, now, program.time_zone)
    entry = record(
        member, now, "redeem", idempotency_key, -cost, request_hash=request_hash,
        reward_id=reward.reward_id if reward else None, voucher_code=new_code(VOUCHER_CODE_LENGTH),
        value_minor=value, lots_consumed=consumed,
    )
    return Change([member], [entry], tier_moves=moves)


def cancel_redemption(member: Member, redemption: Redemption, now: datetime, program: Program | None = None) -> Change:
    """Give a redemption's points back to the lots they came from, except lots that have expired since: those
    points are forfeited (counted as expired, as they would have been), never revived. Allowed for a blocked
    member: it undoes a redemption, it is not an earning. `program`: settle pending points first."""
    member, moves = brought_up_to_date(member, program, now)
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
    entry = record(
        member, now, "cancel", redemption.redemption_id, given_back, reward_id=redemption.reward_id,
        voucher_code=redemption.voucher_code, redemption_id=redemption.redemption_id, points_forfeited=forfeited,
    )
    return Change([member], [entry], tier_moves=moves)

