"""Program statistics kept as counters, updated in the same transaction as the ledger.

Counters are kept per bucket, each a period and the member it counts for (the store spreads a
period over shards by member, so no single item is hot):
  day    what happened that day (days in the program's time zone)
  gaps   the day's purchases by how long before them the member last bought, for gaps of
         DENSE_GAPS days or more (in chunks of GAP_CHUNK gaps)
  month  net points per month, to walk back from the current total
  total  the current outstanding points and members per tier

Distinct active members and repeat purchasers over any range [from, to] are counted exactly
without looking at members. Each purchase on day d knows the days p1 and p2 of the member's two
previous purchases; as gaps, g1 = d - p1 and g2 = d - p2 (g1 <= g2). With k = d - from:
  - a member's first purchase in the range is the one whose previous purchase is before `from`,
    so  active = purchases in range with g1 > k;
  - a member's second purchase in the range is the one with g1 <= k < g2,
    so  repeat = purchases in range with g1 <= k, less those with g2 <= k.
A report covers at most MAX_REPORT_DAYS days, so k <= MAX_GAP: a gap above it (or no previous
purchase) never counts and is not stored. Each day therefore needs two vectors of at most
MAX_GAP + 1 counts (`a<gap>` for g1, `b<gap>` for g2), whatever the traffic or the program's age.
Gaps below DENSE_GAPS ride in the day item (a report of up to DENSE_GAPS days reads nothing else);
longer gaps go to the day's gap items, one per chunk of GAP_CHUNK gaps, read only for the days of a
longer report that need them. Every item an earn writes therefore holds a bounded set of
attributes (docs/scaling.md has the sizes).

Days written before this scheme hold `pf_<p1>` and `pr_<p1>_<p2>` (the previous-purchase days
themselves): they are read as the same gaps, so old days keep reporting right.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from loyalty.domain.model import Entry, Member, pending_time
from loyalty.domain.calendar import add_months, local_day

if TYPE_CHECKING:
    from loyalty.domain.ledger import Change

NONE = "none"  # no previous purchase
NET_ATTRIBUTE = "net_points"
# Pending points: + on the day they are held, - on the day they become available (a future day, written at earn
# time; a return or an erasure moves them back). So they add up to 0 over all days, and what is pending at the
# end of a day is minus the sum over the days after it (reports read as far ahead as the program's window).
PENDING_ATTRIBUTE = "pending_net"
DAY, GAPS, MONTH, TOTAL = "day", "gaps", "month", "total"
MAX_REPORT_DAYS = 366  # a report's longest range
MAX_GAP = MAX_REPORT_DAYS - 1  # the largest k = day - from a report can ask about
DENSE_GAPS = 32  # gaps 0..31 are counted in the day item: every report of up to 32 days reads only day items
GAP_CHUNK = 56  # longer gaps, 32..365, in 6 gap items a day (per shard), each at most 2 x 56 counters
FIRST_GAP, SECOND_GAP = "a", "b"  # a<gap>: purchases whose previous purchase was <gap> days before; b: the one before


@dataclass(frozen=True)
class Bucket:
    """A set of counters: a day ("2026-11-02"), a month ("2026-11") or the running total (period None)."""

    kind: str
    period: str | None
    part: int | None = None  # a gaps bucket's chunk: gaps DENSE_GAPS + part * GAP_CHUNK onwards


Counters = dict[tuple[Bucket, str], dict[str, int]]  # (bucket, member_id) -> counter -> delta


def gap_of(day: date, previous: str | None) -> int | None:
    """Days from a previous purchase day to `day`; None when there is none or it is too long ago for any report."""
    if previous is None:
        return None
    gap = max(0, (day - date.fromisoformat(previous)).days)  # never negative, even if the time zone moved
    return gap if gap <= MAX_GAP else None


def gap_chunk(gap: int) -> int:
    return (gap - DENSE_GAPS) // GAP_CHUNK


def purchase_gap_counters(day: date, previous: str | None, before_previous: str | None) -> list[tuple[int | None, str]]:
    """The counters a purchase on `day` adds one to, as (gaps chunk or None for the day item, attribute)."""
    found = []
    for letter, gap in ((FIRST_GAP, gap_of(day, previous)), (SECOND_GAP, gap_of(day, before_previous))):
        if gap is not None:
            found.append((None if gap < DENSE_GAPS else gap_chunk(gap), f"{letter}{gap}"))
    return found


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
            recorded = date.fromisoformat(day_string)
            for chunk, attribute in purchase_gap_counters(recorded, entry.previous_purchase_day, entry.previous_purchase_day_2):
                target = day if chunk is None else deltas[Bucket(GAPS, day_string, chunk), entry.member_id]
                target[attribute] += 1
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
    """A day's counters, every shard added up (gap items included when the report read them)."""

    day: date
    counters: dict[str, int] = field(default_factory=dict)

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)

    def gaps(self) -> tuple[dict[int, int], dict[int, int]]:
        """Purchases by g1 and by g2, from the new counters and from the old scheme's previous-purchase days."""
        first: dict[int, int] = defaultdict(int)
        second: dict[int, int] = defaultdict(int)
        for name, count in self.counters.items():
            if name[:1] in (FIRST_GAP, SECOND_GAP) and name[1:].isdigit():
                (first if name[0] == FIRST_GAP else second)[int(name[1:])] += count
            elif name.startswith("pf_"):
                gap = gap_of(self.day, _old_day(name[3:]))
                if gap is not None:
                    first[gap] += count
            elif name.startswith("pr_"):
                gap = gap_of(self.day, _old_day(name[3:].split("_")[1]))
                if gap is not None:
                    second[gap] += count
        return first, second

    def within(self, start: date) -> tuple[int, int]:
        """(purchases with g1 <= k, purchases with g2 <= k), k = day - start: those whose previous purchase,
        and the one before it, fall in a range starting on `start`."""
        k = (self.day - start).days
        first, second = self.gaps()
        return sum(count for gap, count in first.items() if gap <= k), sum(count for gap, count in second.items() if gap <= k)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _old_day(attribute_part: str) -> str | None:
    return None if attribute_part == NONE else attribute_part


def active_members(days: list[DayFigures], start: date) -> int:
    """Distinct members with a purchase in the range: their first purchase in it had g1 > k."""
    return sum(figures.get("purchases") - figures.within(start)[0] for figures in days)


def repeat_purchasers(days: list[DayFigures], start: date) -> int:
    """Distinct members with two or more purchases in the range: their second one had g1 <= k < g2."""
    total = 0
    for figures in days:
        first, second = figures.within(start)
        total += first - second
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

    def gap_buckets(self) -> list[Bucket]:
        """The gap items a day of the range needs: the chunks of gaps up to k = day - start (none below DENSE_GAPS)."""
        start = self.days[0]
        return [Bucket(GAPS, day.isoformat(), chunk) for day in self.read_days
                for chunk in range(gap_chunk((day - start).days) + 1) if (day - start).days >= DENSE_GAPS]

    def buckets(self) -> list[Bucket]:
        days = [Bucket(DAY, day.isoformat()) for day in dict.fromkeys(self.read_days + self.later_days + self.pending_days)]
        months = [Bucket(MONTH, month) for month in dict.fromkeys(self.later_months + self.pending_months)]
        return days + self.gap_buckets() + months


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
    month_end = end.replace(day=calendar.monthrange(end.year, end.month)[1])  # also for December of year 9999
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

    gap_counters: dict[str, dict[str, int]] = defaultdict(dict)
    for bucket in report_plan.gap_buckets():
        gap_counters[bucket.period].update(counters.get(bucket, {}))  # chunks hold distinct gaps
    days = [DayFigures(day, {**counters.get(Bucket(DAY, day.isoformat()), {}), **gap_counters.get(day.isoformat(), {})})
            for day in report_plan.days]
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
