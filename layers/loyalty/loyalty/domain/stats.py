"""Program statistics kept as counters, updated in the same transaction as the ledger.

Counters are kept per bucket, each a period and the member it counts for (the store spreads a
period over shards by member, so no single item is hot):
  day    what happened that day (days in the program's time zone)
  gaps   the day's purchases by how long before them the member last bought, for gaps of
         DENSE_GAPS days or more (in chunks of GAP_CHUNK gaps)
  total  members per tier (moved only when a member changes tier: enrolment, an earn that promotes,
         the review, an erasure)
  cumulative  net and pending points from the first day through a day, written by the daily roll-up
         (`roll_up`), never by a request: an earn writes only its day's items

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

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from loyalty.domain.model import Entry, Member, pending_time
from loyalty.domain.calendar import local_day

if TYPE_CHECKING:
    from loyalty.domain.ledger import Change

NONE = "none"  # no previous purchase
NET_ATTRIBUTE = "net_points"
# Pending points: + on the day they are held, - on the day they become available (a future day, written at earn
# time; a return or an erasure moves them back). So they add up to 0 over all days, and what is pending at the
# end of a day is minus the sum over the days after it (reports read as far ahead as the program's window).
PENDING_ATTRIBUTE = "pending_net"
DAY, GAPS, MONTH, TOTAL = "day", "gaps", "month", "total"  # MONTH: written before the roll-up, read no more
CUMULATIVE = "cumulative"  # one item a day (not sharded): net and pending points from the first day through it
ROLLUP = "rollup"  # one item: the last day rolled up (`rolled_through`)
SETTLE_DAYS = 15  # a day is rolled up once this many days have passed: no write lands on it any more (a job batch
# SQS delivers again within its 14 days of retention is dated as its schedule)
ROLLUP_DAYS_PER_RUN = 400  # days one run of the roll-up adds at most (the first run on a long history resumes)
CUMULATED = (NET_ATTRIBUTE, PENDING_ATTRIBUTE)
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
        day[NET_ATTRIBUTE] += entry.points  # the outstanding total is the sum of the days (rolled up daily)
        for moment, points in _pending_moves(entry):
            pending_day = local_day(moment, time_zone).isoformat()
            deltas[Bucket(DAY, pending_day), entry.member_id][PENDING_ATTRIBUTE] += points
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
    """Which buckets a report for [start, end] reads.

    Counters exist only from `first_day` (the first day anything was counted): days before it are empty and
    need no read, and nothing is outstanding at the end of an `end` before it. What is outstanding (and
    pending) at the end of `end` is the sum of every day through it: the roll-up's cumulative item of the last
    day rolled up (`cumulative_day`, at most `end`), plus the days after it through `end` (`summed_days`).
    Days after the horizon (today + the pending days + 2) hold nothing and are never summed. So a report
    reads its days, one cumulative item, and the days after the last roll-up before its range (at most
    SETTLE_DAYS + 2 while the daily roll-up runs), whatever the traffic and the program's age.
    """

    days: list[date]  # the range
    read_days: list[date]  # the range's days that can hold counters
    before_first_day: bool  # `end` is before anything was counted: nothing is outstanding at its end
    cumulative_day: date | None = None  # the cumulative item read (None: nothing rolled up at or before `end`)
    summed_days: list[date] = field(default_factory=list)  # after `cumulative_day` (or from first_day) through `end`

    def gap_buckets(self) -> list[Bucket]:
        """The gap items a day of the range needs: the chunks of gaps up to k = day - start (none below DENSE_GAPS)."""
        start = self.days[0]
        return [Bucket(GAPS, day.isoformat(), chunk) for day in self.read_days
                for chunk in range(gap_chunk((day - start).days) + 1) if (day - start).days >= DENSE_GAPS]

    def buckets(self) -> list[Bucket]:
        days = [Bucket(DAY, day.isoformat()) for day in dict.fromkeys(self.read_days + self.summed_days)]
        cumulative = [Bucket(CUMULATIVE, self.cumulative_day.isoformat())] if self.cumulative_day else []
        return days + self.gap_buckets() + cumulative


def plan(start: date, end: date, today: date, first_day: date | None, pending_days: int = 0,
         rolled_through: date | None = None) -> ReportPlan:
    """`first_day`: when counting began (None: nothing counted yet); `pending_days`: the program's
    `earn.pending_days`; `rolled_through`: the last day the roll-up added up (None: none yet)."""
    days = days_between(start, end)
    if first_day is None or end < first_day:
        return ReportPlan(days, [], before_first_day=True)
    read_days = [day for day in days if day >= first_day]
    # No write lands after the horizon: a purchase is never dated ahead of the clock, pending points are released
    # within pending_days of it, and two days cover a clock's skew and the time zone.
    horizon = min(end, today + timedelta(days=pending_days + 2))
    cumulative_day = min(end, rolled_through) if rolled_through is not None and rolled_through >= first_day else None
    first_summed = cumulative_day + timedelta(days=1) if cumulative_day else first_day
    summed = days_between(first_summed, horizon) if first_summed <= horizon else []
    return ReportPlan(days, read_days, False, cumulative_day, summed)


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
    """`counters`: the plan's buckets (missing ones are empty); `totals`: the running totals (members per tier)."""
    gap_counters: dict[str, dict[str, int]] = defaultdict(dict)
    for bucket in report_plan.gap_buckets():
        gap_counters[bucket.period].update(counters.get(bucket, {}))  # chunks hold distinct gaps
    days = [DayFigures(day, {**counters.get(Bucket(DAY, day.isoformat()), {}), **gap_counters.get(day.isoformat(), {})})
            for day in report_plan.days]
    through = cumulate(report_plan, counters)
    start = report_plan.days[0]
    pending = through[PENDING_ATTRIBUTE]
    return ProgramReport(
        start=start, end=report_plan.days[-1], days=days,
        active=active_members(days, start), repeat=repeat_purchasers(days, start),
        outstanding_points=through[NET_ATTRIBUTE] - pending, points_pending=pending,
        tiers={name: totals.get(f"tier_{name}", 0) for name in tier_names},
    )


def cumulate(report_plan: ReportPlan, counters: dict[Bucket, dict[str, int]]) -> dict[str, int]:
    """Net and pending points from the first day through the plan's `end`."""
    if report_plan.before_first_day:
        return dict.fromkeys(CUMULATED, 0)
    buckets = [Bucket(DAY, day.isoformat()) for day in report_plan.summed_days]
    if report_plan.cumulative_day:
        buckets.append(Bucket(CUMULATIVE, report_plan.cumulative_day.isoformat()))
    return {name: sum(counters.get(bucket, {}).get(name, 0) for bucket in buckets) for name in CUMULATED}


# ------------------------------------------------------------------ the roll-up


def roll_up_days(rolled_through: date | None, first_day: date | None, today: date,
                 most: int = ROLLUP_DAYS_PER_RUN) -> list[date]:
    """The days a roll-up run adds, in order: after the last rolled up (or from the first day counted) through
    the last settled day (today - SETTLE_DAYS), at most `most` of them (the next run goes on from there)."""
    if first_day is None:
        return []
    first = rolled_through + timedelta(days=1) if rolled_through is not None else first_day
    last = min(today - timedelta(days=SETTLE_DAYS), first + timedelta(days=most - 1))
    return days_between(first, last) if first <= last else []


def rolled(previous: dict[str, int], day: dict[str, int]) -> dict[str, int]:
    """The cumulative figures through a day: those through the day before plus the day's own (every shard)."""
    return {name: previous.get(name, 0) + day.get(name, 0) for name in CUMULATED}
