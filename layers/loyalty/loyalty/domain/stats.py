"""Program statistics kept as counters, updated in the same transaction as the ledger.

Counter items (all sharded by member, so no single item is hot):
  day   "D#<day>#<shard>"   what happened that day (days in the program's time zone)
  month "M#<month>#<shard>" net points per month, to walk back from the current total
  total "T#<shard>"         the current outstanding points and members per tier

Distinct active members and repeat purchasers over any range are counted exactly without
looking at members: each purchase records, in its day's item, the days of the member's two
previous purchases (`pf_<p1>` and `pr_<p1>_<p2>`). In a range starting on `from`:
  - a member's first purchase in the range is the one whose previous purchase is before `from`,
    so  active = purchases in range with p1 < from;
  - a member's second purchase in the range is the one with p1 >= from and p2 < from,
    so  repeat = purchases in range with p1 >= from > p2.
Each day item grows with the distinct (p1, p2) pairs of that day's purchases, never with the
member count, and a report reads one item per day and shard.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loyalty.domain.model import Entry, Member
from loyalty.domain.months import add_months

NONE = "none"  # no previous purchase
Counters = dict[str, dict[str, int]]  # item key -> attribute -> delta

DAY_COUNTERS = (
    "enrollments", "purchases", "revenue_minor", "refunds_minor", "points_issued", "points_redeemed",
    "points_expired", "points_returned", "redemptions",
)
NET_ATTRIBUTE = "net_points"


def shard_of(member_id: str, shards: int) -> int:
    return int(hashlib.sha256(member_id.encode()).hexdigest()[:8], 16) % shards


def local_day(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def day_start(day: date, time_zone: str) -> datetime:
    """The instant a local day begins."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(time_zone))


def day_key(day: date | str, shard: int) -> str:
    return f"D#{day}#{shard}"


def month_key(month: str, shard: int) -> str:
    return f"M#{month}#{shard}"


def total_key(shard: int) -> str:
    return f"T#{shard}"


def purchase_history_attributes(previous: str | None, before_previous: str | None) -> tuple[str, str]:
    return f"pf_{previous or NONE}", f"pr_{previous or NONE}_{before_previous or NONE}"


def _points_issued(entry: Entry) -> int:
    return entry.points if entry.type in ("earn", "bonus", "adjust") and entry.points > 0 else 0


def counter_deltas(
    entries: list[Entry], *, time_zone: str, shards: int, enrolled: Member | None = None,
    tier_moves: list[tuple[str, str | None, str]] = (),
) -> Counters:
    """The counter changes that a committed change makes. `tier_moves`: (member_id, from or None, to)."""
    deltas: Counters = defaultdict(lambda: defaultdict(int))
    if enrolled is not None:
        day = deltas[day_key(local_day(enrolled.enrolled_at, time_zone), shard_of(enrolled.member_id, shards))]
        day["enrollments"] += 1
        day[f"enrollments_{enrolled.channel}"] += 1
    for entry in entries:
        shard = shard_of(entry.member_id, shards)
        day_string = local_day(entry.created_at, time_zone).isoformat()
        day = deltas[day_key(day_string, shard)]
        issued = _points_issued(entry)
        day["points_issued"] += issued
        if entry.type == "earn":
            day["purchases"] += 1
            day["revenue_minor"] += entry.amount_minor or 0
            for attribute in purchase_history_attributes(entry.previous_purchase_day, entry.previous_purchase_day_2):
                day[attribute] += 1
        elif entry.type == "redeem":
            day["points_redeemed"] += -entry.points
            day["redemptions"] += 1
        elif entry.type == "expire":
            day["points_expired"] += -entry.points
        elif entry.type == "return":
            day["points_returned"] += -entry.points
            day["refunds_minor"] += entry.amount_minor or 0
        day[NET_ATTRIBUTE] += entry.points
        deltas[month_key(day_string[:7], shard)][NET_ATTRIBUTE] += entry.points
        deltas[total_key(shard)][NET_ATTRIBUTE] += entry.points
    for member_id, tier_from, tier_to in tier_moves:
        total = deltas[total_key(shard_of(member_id, shards))]
        if tier_from:
            total[f"tier_{tier_from}"] -= 1
        total[f"tier_{tier_to}"] += 1
    return {key: {name: value for name, value in values.items() if value} for key, values in deltas.items() if any(values.values())}


# ------------------------------------------------------------------ reading


@dataclass
class DayFigures:
    day: date
    counters: dict[str, int] = field(default_factory=dict)

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)


def merge_shards(items: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = defaultdict(int)
    for item in items:
        for name, value in item.items():
            merged[name] += value
    return dict(merged)


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
    """Which counter items a report for [start, end] needs, seen from `today`."""

    days: list[date]  # the range
    later_days: list[date]  # after `end` in its month, up to today: walked back from the total
    later_months: list[str]  # whole months after `end`'s month, up to today's

    def keys(self, shards: int) -> list[str]:
        keys = [day_key(day, shard) for day in self.days + self.later_days for shard in range(shards)]
        keys += [month_key(month, shard) for month in self.later_months for shard in range(shards)]
        return keys + [total_key(shard) for shard in range(shards)]


def plan(start: date, end: date, today: date) -> ReportPlan:
    if end >= today:
        return ReportPlan(days_between(start, end), [], [])
    month_end = date.fromisoformat(add_months(end.isoformat()[:7], 1) + "-01") - timedelta(days=1)
    later_days = days_between(end + timedelta(days=1), min(month_end, today)) if end < month_end else []
    later_months, month = [], end.isoformat()[:7]
    while month < today.isoformat()[:7]:
        month = add_months(month, 1)
        later_months.append(month)
    return ReportPlan(days_between(start, end), later_days, later_months)


@dataclass(frozen=True)
class ProgramReport:
    start: date
    end: date
    days: list[DayFigures]
    active: int
    repeat: int
    outstanding_points: int
    tiers: dict[str, int]

    def total(self, name: str) -> int:
        return sum(day.get(name) for day in self.days)


def build_report(
    report_plan: ReportPlan, items: dict[str, dict[str, int]], shards: int, tier_names: list[str],
) -> ProgramReport:
    def merged(keys: list[str]) -> dict[str, int]:
        return merge_shards([items.get(key, {}) for key in keys])

    days = [DayFigures(day, merged([day_key(day, shard) for shard in range(shards)])) for day in report_plan.days]
    totals = merged([total_key(shard) for shard in range(shards)])
    later = sum(merged([day_key(day, s) for s in range(shards)]).get(NET_ATTRIBUTE, 0) for day in report_plan.later_days)
    later += sum(merged([month_key(m, s) for s in range(shards)]).get(NET_ATTRIBUTE, 0) for m in report_plan.later_months)
    start = report_plan.days[0]
    return ProgramReport(
        start=start, end=report_plan.days[-1], days=days,
        active=active_members(days, start), repeat=repeat_purchasers(days, start),
        outstanding_points=totals.get(NET_ATTRIBUTE, 0) - later,
        tiers={name: totals.get(f"tier_{name}", 0) for name in tier_names},
    )
