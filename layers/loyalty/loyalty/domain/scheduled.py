"""The scheduled jobs' rules: the birthday bonus, expiry with its reminders, the monthly tier review."""

from __future__ import annotations

from datetime import datetime, timedelta

from loyalty.domain.birthday import bonus_due, bonus_ref
from loyalty.domain.ledger import Change, advance, bonus_entry, brought_up_to_date, qualifying_points, record, touch
from loyalty.domain.model import (
    ERASED,
    Member,
)
from loyalty.domain.calendar import end_of_month, month_key
from loyalty.program import Program


# ------------------------------------------------------------------ scheduled jobs

def birthday_bonus(member: Member, program: Program, as_of: datetime, recorded_at: datetime | None = None) -> Change | None:
    """The birthday bonus of `as_of`'s local day (`birthday.bonus_due`), or None. The caller skips a member whose
    entry of this year (`birthday.bonus_ref`) exists; the entry is dated `recorded_at` (default `as_of`), like
    the expiry's, and its points expire like the welcome bonus's."""
    if not bonus_due(member, program, as_of):
        return None
    member = member.copy()
    return Change([member], [bonus_entry(member, program, recorded_at or as_of, "birthday", bonus_ref(as_of, program).id,
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
    settled = advance(member, program, now)  # pending points that became available expire like the others
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
            touch(settled.member)
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
            record(member, recorded_at or now, "expire", max(expired), -total, lots_consumed=expired)
        )
    else:
        touch(member)
    member.reminded_lots = sorted({*(month for month in member.reminded_lots if month in member.lots), *due})
    return change


def review_tier(member: Member, program: Program, now: datetime) -> Change | None:
    """The monthly tier review: the tier qualifying points earn, lowered at most `max_levels_down` at a time.

    A higher tier is applied too (normally earning has already done it). Returns None when this
    month's review already ran, so a retried delivery changes nothing.
    """
    month = month_key(now)
    if member.tier_reviewed == month or member.status == ERASED:
        return None
    member, moves = brought_up_to_date(member, program, now)
    member = member.copy()
    member.tier_reviewed = month
    touch(member)
    current = program.tier_rank(member.tier)
    earned = program.tier_rank(program.tier_for(qualifying_points(member, program, now)).name)
    target = earned if earned >= current else max(earned, current - program.tier_review.max_levels_down)
    change = Change([member], tier_moves=moves)
    if target != current:
        member.tier = program.tiers[target].name
        change.tier_moves.append((member.member_id, program.tiers[current].name, member.tier))
    return change
