"""The ledger's rules: a change and its entries, lots and soonest-first spending, pending points, tiers
moving up, and what the scheduled jobs must find a member by. Each function takes plain values and returns the
new state.

Every balance change goes through `record`, which appends a ledger entry carrying the balance after it, so
`balance == sum(entry points)` holds by construction. Points live in lots keyed by expiry month; every debit
takes the soonest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from loyalty.domain import errors
from loyalty.domain.model import (
    BLOCKED,
    ERASED,
    Entry,
    EntryRef,
    Member,
    new_entry_id,
    pending_key,
    pending_time,
)
from loyalty.domain.calendar import add_months, end_of_month, month_key, window
from loyalty.program import MAX_QUALIFYING_WINDOW_MONTHS, Program

if TYPE_CHECKING:  # the campaign engine is loaded by the rules that evaluate campaigns, when they run
    from loyalty.domain.campaigns.engine import Award

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


def record(member: Member, now: datetime, type_: str, ref_id: str, points: int, **fields: object) -> Entry:
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


def credit(member: Member, program: Program, points: int, earned_at: datetime) -> str:
    """Add points to the lot of their expiry month; returns that month."""
    expiry_month = add_months(month_key(earned_at), program.expiry.months)
    if points:
        member.lots[expiry_month] = member.lots.get(expiry_month, 0) + points
        member.balance += points
        member.points_earned += points
    return expiry_month


def debit(member: Member, points: int, first: str | None = None) -> dict[str, int]:
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


def bonus_entry(
    member: Member, program: Program, now: datetime, kind: str, ref_id: str, points: int,
    available: datetime | None = None,
) -> Entry:
    """A bonus, available at once unless `available` (the referral bonus of a purchase whose points are pending)."""
    if available is not None and available > now:
        expiry_month = hold(member, program, points, 0, available)
    else:
        expiry_month = credit(member, program, points, available or now)
    return record(member, now, "bonus", ref_id, points, bonus=kind, expires_at=end_of_month(expiry_month),
                   available_at=available)


# ------------------------------------------------------------------ pending points


def available_at(program: Program, purchased_at: datetime) -> datetime | None:
    """When a purchase's points become spendable: None when the program holds nothing (`earn.pending_days` 0)."""
    if not program.earn.pending_days:
        return None
    return (purchased_at + timedelta(days=program.earn.pending_days)).replace(microsecond=0)


def hold(member: Member, program: Program, points: int, qualifying: int, available: datetime) -> str:
    """Put points (and the qualifying points they carry) in the pending lot of `available`; returns the
    expiry month they will have, counted from when they become available."""
    key = pending_key(available)
    if points:
        member.pending[key] = member.pending.get(key, 0) + points
        member.points_earned += points
    if qualifying:
        member.pending_qualifying[key] = member.pending_qualifying.get(key, 0) + qualifying
    return add_months(month_key(available), program.expiry.months)


def release(member: Member, program: Program, now: datetime) -> bool:
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
        forget_old_qualifying(member, now)
    return bool(due)


def forget_old_qualifying(member: Member, now: datetime) -> None:
    """Drop the qualifying points of months no window can reach any more (no version's window is longer than
    MAX_QUALIFYING_WINDOW_MONTHS): the member item an earn writes stays bounded whatever the member's age."""
    oldest = add_months(month_key(now), -(MAX_QUALIFYING_WINDOW_MONTHS - 1))
    for month in [month for month in member.qualifying if month < oldest]:
        del member.qualifying[month]


def upgrade(member: Member, program: Program, now: datetime) -> tuple[str, str | None, str | None] | None:
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
    change = advance(member, program, now)
    if change:
        touch(change.member)
    return change


def advance(member: Member, program: Program, now: datetime) -> Change | None:
    """`settle` without moving the version: for a rule whose own entry or write moves it."""
    if not any(pending_time(key) <= now for key in {*member.pending, *member.pending_qualifying}):
        return None
    member = member.copy()
    release(member, program, now)
    move = upgrade(member, program, now)
    return Change([member], tier_moves=[move] if move else [])


def brought_up_to_date(member: Member, program: Program | None, now: datetime) -> tuple[Member, list]:
    """The member as of `now` and the tier moves that took: what every write starts from."""
    change = advance(member, program, now) if program is not None else None
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


def touch(member: Member) -> None:
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

