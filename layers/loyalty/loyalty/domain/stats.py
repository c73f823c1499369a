"""Program statistics kept as counters, updated in the same transaction as the ledger.

Counters are kept per bucket, each a period and the member it counts for (the store spreads a
period over shards by member, so no single item is hot):
  day    what happened that day (days in the program's time zone)
  month  net points per month, to walk back from the current total
  total  the current outstanding points and members per tier

Distinct active members and repeat purchasers over any range are counted exactly without
looking at members: each purchase records, in its day's counters, the days of the member's two
previous purchases (`pf_<p1>` and `pr_<p1>_<p2>`). In a range starting on `from`:
  - a member's first purchase in the range is the one whose previous purchase is before `from`,
    so  active = purchases in range with p1 < from;
  - a member's second purchase in the range is the one with p1 >= from and p2 < from,
    so  repeat = purchases in range with p1 >= from > p2.
Each day's counters grow with the distinct (p1, p2) pairs of that day's purchases, never with the
member count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from loyalty.domain.model import Entry, Member, pending_time
from loyalty.domain.months import add_months

if TYPE_CHECKING:
    from loyalty.domain.rules import Change

NONE = "none"  # no previous purchase
NET_ATTRIBUTE = "net_points"
# Pending points: + on the day they are held, - on the day they become available (a future day, written at earn
# time; a return or an erasure moves them back). So they add up to 0 over all days, and what is pending at the
# end of a day is minus the sum over the days after it (reports read as far ahead as the program's window).
PENDING_ATTRIBUTE = "pending_net"
DAY, MONTH, TOTAL = "day", "month", "total"


@dataclass(frozen=True)
class Bucket:
    """A set of counters: a day ("2026-11-02"), a month ("2026-11") or the running total (period None)."""

    kind: str
    period: str | None


Counters = dict[tuple[Bucket, str], dict[str, int]]  # (bucket, member_id) -> counter -> delta


def local_day(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def day_start(day: date, time_zone: str) -> datetime:
    """The instant a local day begins."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(time_zone))


def purchase_history_attributes(previous: str | None, before_previous: str | None) -> tuple[str, str]:
    return f"pf_{previous or NONE}", f"pr_{previous or NONE}_{before_previous or NONE}"


def note_purchase_days(change: Change, time_zone: str) -> None:
    """Report bookkeeping for an earn: the entry carries the member's two previous purchase days,
    and the member remembers this one (a purchase counts on the day it is recorded)."""
    member = change.member
    for entry in change.entries:
        if entry.type == "earn" and entry.member_id == member.member_id:
            entry.previous_purchase_day = member.last_purchase_day
            entry.previous_purchase_day_2 = member.previous_purchase_day
            member.previous_purchase_day = member.last_purchase_day
            member.last_purchase_day = local_day(entry.created_at, time_zone).isoformat()


def _points_issued(entry: Entry) -> int:
    return entry.points if entry.type in ("earn", "bonus", "adjust") and entry.points > 0 else 0


def _pending_moves(entry: Entry) -> list[tuple[datetime, int]]:
    """The changes of pending points an entry makes, as (when, points): held on its day, released on its
    available_at's day."""
    moves: list[tuple[datetime, int]] = []
    if entry.type in ("earn", "bonus") and entry.available_at and entry.available_at > entry.created_at and entry.points > 0:
        moves += [(entry.created_at, entry.points), (entry.available_at, -entry.points)]
    for key, points in (entry.pending_consumed or {}).items():
        moves += [(entry.created_at, -points), (pending_time(key), points)]
    return moves


def counter_deltas(
    entries: list[Entry], *, time_zone: str, enrolled: Member | None = None,
    tier_moves: list[tuple[str, str | None, str | None]] = (),
) -> Counters:
    """The counter changes that a committed change makes. `tier_moves`: (member_id, from or None, to or None:
    None is outside the distribution, before enrolment or after erasure)."""
    deltas: Counters = defaultdict(lambda: defaultdict(int))
    if enrolled is not None:
        day = deltas[Bucket(DAY, local_day(enrolled.enrolled_at, time_zone).isoformat()), enrolled.member_id]
        day["enrollments"] += 1
        day[f"enrollments_{enrolled.channel}"] += 1
    for entry in entries:
        day_string = local_day(entry.created_at, time_zone).isoformat()
        day = deltas[Bucket(DAY, day_string), entry.member_id]
        day["points_issued"] += _points_issued(entry)
        if entry.type == "earn":
            day["purchases"] += 1
            day["revenue_minor"] += entry.amount_minor or 0
            for attribute in purchase_history_attributes(entry.previous_purchase_day, entry.previous_purchase_day_2):
                day[attribute] += 1
        elif entry.type == "redeem":
            day["points_redeemed"] += -entry.points
        elif entry.type == "expire":
            day["points_expired"] += -entry.points
        elif entry.type == "return":
            day["points_returned"] += -entry.points
            day["refunds_minor"] += entry.amount_minor or 0
        elif entry.type == "adjust" and entry.points < 0:
            day["points_debited"] += -entry.points  # admin debits: neither redeemed nor expired
        elif entry.type == "erase":
            day["points_forfeited"] += -entry.points  # the balance an erased member held
        elif entry.type == "cancel":
            # A cancelled redemption is redeemed no more (on the cancel's day); what it spent from lots that
            # have expired since is not given back: it counts as expired, as it would have without the redemption.
            day["points_redeemed"] -= entry.points + (entry.points_forfeited or 0)
            day["points_expired"] += entry.points_forfeited or 0
        day[NET_ATTRIBUTE] += entry.points
        deltas[Bucket(MONTH, day_string[:7]), entry.member_id][NET_ATTRIBUTE] += entry.points
        deltas[Bucket(TOTAL, None), entry.member_id][NET_ATTRIBUTE] += entry.points
        for moment, points in _pending_moves(entry):
            pending_day = local_day(moment, time_zone).isoformat()
            deltas[Bucket(DAY, pending_day), entry.member_id][PENDING_ATTRIBUTE] += points
            deltas[Bucket(MONTH, pending_day[:7]), entry.member_id][PENDING_ATTRIBUTE] += points
    for member_id, tier_from, tier_to in tier_moves:
        total = deltas[Bucket(TOTAL, None), member_id]
        if tier_from:
            total[f"tier_{tier_from}"] -= 1
        if tier_to:
            total[f"tier_{tier_to}"] += 1
    return {key: {name: value for name, value in values.items() if value} for key, values in deltas.items() if any(values.values())}


# ------------------------------------------------------------------ reading


@dataclass
class DayFigures:
    day: date
    counters: dict[str, int] = field(default_factory=dict)

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _day_of(attribute_part: str) -> date | None:
    return None if attribute_part == NONE else date.fromisoformat(attribute_part)


def active_members(days: list[DayFigures], start: date) -> int:
    """Distinct members with a purchase in the range: their first purchase in it had p1 < start."""
    total = 0
    for figures in days:
        for name, count in figures.counters.items():
            if name.startswith("pf_"):
                previous = _day_of(name[3:])
                if previous is None or previous < start:
                    total += count
    return total


def repeat_purchasers(days: list[DayFigures], start: date) -> int:
    """Distinct members with two or more purchases in the range: their second one had p1 >= start > p2."""
    total = 0
    for figures in days:
        for name, count in figures.counters.items():
            if name.startswith("pr_"):
                previous, before_previous = (_day_of(part) for part in name[3:].split("_"))
                if previous is not None and previous >= start and (before_previous is None or before_previous < start):
                    total += count
    return total


# ------------------------------------------------------------------ the report

CHANNELS = ("app", "web", "store", "social", "partner")


@dataclass(frozen=True)
class ReportPlan:
    """Which buckets a report for [start, end] reads, seen from `today`.

    Counters exist only from `first_day` (the first day anything was counted): days before it are
    empty and need no read, and the outstanding total at the end of a `to` before it is zero. So a
    report reads its days (at most the range) plus the days and months from `to` to today to walk
    back from the current total: bounded by the range and the program's age, whatever dates are asked.
    """

    days: list[date]  # the range
    read_days: list[date]  # the range's days that can hold counters
    later_days: list[date]  # after `end` in its month, up to today: walked back from the total
    later_months: list[str]  # whole months after `end`'s month, up to today's
    before_first_day: bool  # `end` is before anything was counted: nothing is outstanding at its end
    pending_days: list[date] = field(default_factory=list)  # after `end` in its month, up to the pending horizon
    pending_months: list[str] = field(default_factory=list)  # whole months after `end`'s, up to that horizon

    def buckets(self) -> list[Bucket]:
        days = [Bucket(DAY, day.isoformat()) for day in dict.fromkeys(self.read_days + self.later_days + self.pending_days)]
        return days + [Bucket(MONTH, month) for month in dict.fromkeys(self.later_months + self.pending_months)]


def _months_after(month: str, last: str) -> list[str]:
    months = []
    while month < last:
        month = add_months(month, 1)
        months.append(month)
    return months


def plan(start: date, end: date, today: date, first_day: date | None, pending_days: int = 0) -> ReportPlan:
    """`first_day`: when counting began (None: nothing counted yet); `pending_days`: the program's
    `earn.pending_days` (0: nothing is held, nothing ahead of `end` is read)."""
    days = days_between(start, end)
    if first_day is None or end < first_day:
        return ReportPlan(days, [], [], [], before_first_day=True)
    read_days = [day for day in days if day >= first_day]
    month_end = date.fromisoformat(add_months(end.isoformat()[:7], 1) + "-01") - timedelta(days=1)
    # No pending points become available after the horizon (a purchase is never dated ahead of the clock;
    # two days cover its skew and the time zone).
    horizon = today + timedelta(days=pending_days + 2) if pending_days else end
    ahead = days_between(end + timedelta(days=1), min(month_end, horizon)) if end < min(month_end, horizon) else []
    pending_months = _months_after(end.isoformat()[:7], horizon.isoformat()[:7])
    if end >= today:
        return ReportPlan(days, read_days, [], [], False, ahead, pending_months)
    later_days = days_between(end + timedelta(days=1), min(month_end, today)) if end < month_end else []
    later_months = _months_after(end.isoformat()[:7], today.isoformat()[:7])
    return ReportPlan(days, read_days, later_days, later_months, False, ahead, pending_months)


@dataclass(frozen=True)
class ProgramReport:
    start: date
    end: date
    days: list[DayFigures]
    active: int
    repeat: int
    outstanding_points: int  # spendable: pending points are not in it
    tiers: dict[str, int]
    points_pending: int = 0  # at the end of `end`

    def total(self, name: str) -> int:
        return sum(day.get(name) for day in self.days)


def build_report(
    report_plan: ReportPlan, counters: dict[Bucket, dict[str, int]], totals: dict[str, int], tier_names: list[str],
) -> ProgramReport:
    """`counters`: the plan's buckets (missing ones are empty); `totals`: the running totals."""

    def net(bucket: Bucket, attribute: str = NET_ATTRIBUTE) -> int:
        return counters.get(bucket, {}).get(attribute, 0)

    days = [DayFigures(day, dict(counters.get(Bucket(DAY, day.isoformat()), {}))) for day in report_plan.days]
    later = sum(net(Bucket(DAY, day.isoformat())) for day in report_plan.later_days)
    later += sum(net(Bucket(MONTH, month)) for month in report_plan.later_months)
    outstanding = 0 if report_plan.before_first_day else totals.get(NET_ATTRIBUTE, 0) - later
    pending = -sum(net(Bucket(DAY, day.isoformat()), PENDING_ATTRIBUTE) for day in report_plan.pending_days)
    pending -= sum(net(Bucket(MONTH, month), PENDING_ATTRIBUTE) for month in report_plan.pending_months)
    start = report_plan.days[0]
    return ProgramReport(
        start=start, end=report_plan.days[-1], days=days,
        active=active_members(days, start), repeat=repeat_purchasers(days, start),
        outstanding_points=outstanding - pending, points_pending=pending,
        tiers={name: totals.get(f"tier_{name}", 0) for name in tier_names},
    )
