"""The campaign engine: pure, it applies campaigns (documents.py) to one purchase.

`parse_campaign` turns the JSON document of API.md ("Campaigns") into a frozen `Campaign`, refusing
anything the engine could not evaluate with `InvalidCampaign` (422 VALIDATION_ERROR, naming the field):
an unknown fact or op is an error when the campaign is written, never a silent false when it runs.

`evaluate` applies campaigns to one purchase. It does no I/O and reads no clock: the caller passes the
member, the limit counters it read and the time. The rules:

- A purchase is judged at its own time, `occurred_at` (else `now`): the dates, the schedule, the facts
  and the day of a daily limit, all in the program's time zone.
- Campaigns are taken in order: `priority` higher first, then `campaign_id`.
- A campaign applies when `starts_at <= time < ends_at`, the schedule admits the local weekday and
  `from <= local time < to`, and its conditions hold (`all`: every one, `any`: at least one). A fact the
  purchase or member does not carry (no channel, no store, no birthday) fails every condition on it,
  `ne` and `not_in` included.
- The effect counts the matching lines: eligible (not excluded) lines whose category or sku `applies_to`
  names; without `applies_to`, the whole eligible amount. `multiply`: (factor - 1) × the base points of
  the matching amount; `bonus`: once (with `applies_to`, only when a line matches); `per_item`: per unit
  of quantity of the matching lines; `per_amount`: per whole `unit_minor` of the matching amount.
  Fractions round down. An effect worth 0 points does not apply.
- Limits: each campaign's `limits` cap what it gives per member or in all (`per`), per local day or over
  the campaign (`period`), in points or in times applied. An award that would pass a limit is cut to
  what is left (`limited`); with nothing left the campaign does not apply.
- Within an `exclusive_group` only the campaign that gives most (after its limits) applies; a tie goes to
  the first in order. Campaigns in no group add up.

The award says what to credit and why, and which limit counters the caller must add to, with the
ceiling each addition must keep, so the store can write them under conditions in the same transaction
as the earn entry. Counters of a `per: member` limit are the member's own: the caller scopes them.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


from loyalty.domain.basket import Eligible, base_points
from loyalty.domain.model import Member, Purchase
from loyalty.domain.campaigns.document import Campaign, Condition, Limit, Schedule, WEEKDAYS

# ------------------------------------------------------------------ the engine's values


# A counter in all is spread over this many items. A transactional write of one takes 2 units and an item about
# 1,000 units a second: 5 shards take 2,500 purchases a second on one campaign, and 16 campaigns, each with a
# counter of the member and one in all, still read in one BatchGetItem (2 + 16 x (1 + 5) = 98 keys of 100).
CAMPAIGN_SHARDS = 5


@dataclass(frozen=True)
class CounterKey:
    """One limit counter: a campaign's, per member (the member's own) or in all, for a local day or the campaign.

    A counter in all (`per` "campaign") is stored as CAMPAIGN_SHARDS items, `shard` 0 to CAMPAIGN_SHARDS - 1, each
    holding its share of the limits; the engine sees their sum (`shard` None).
    """

    campaign_id: str
    per: str  # member | campaign
    period: str  # "2026-12-01" (a local day) or "campaign"
    shard: int | None = None

    @property
    def spread(self) -> bool:
        return self.per == "campaign"

    def in_shard(self, shard: int) -> CounterKey:
        return CounterKey(self.campaign_id, self.per, self.period, shard)

    @property
    def whole(self) -> CounterKey:
        return CounterKey(self.campaign_id, self.per, self.period)


@dataclass(frozen=True)
class Usage:
    points: int = 0
    times: int = 0


@dataclass(frozen=True)
class Increment:
    """What the caller adds to a counter, and the ceilings the counter must stay within (None: no ceiling)."""

    key: CounterKey
    points: int
    times: int
    max_points: int | None
    max_times: int | None


@dataclass(frozen=True)
class CampaignPoints:
    campaign_id: str
    points: int
    source: str = "campaign"


@dataclass(frozen=True)
class Limited:
    campaign_id: str
    wanted: int
    given: int


@dataclass(frozen=True)
class NotApplied:
    campaign_id: str
    reason: str


@dataclass(frozen=True)
class Award:
    points: int
    breakdown: tuple[CampaignPoints, ...]  # in evaluation order
    limited: tuple[Limited, ...]
    not_applied: tuple[NotApplied, ...]
    increments: tuple[Increment, ...]


@dataclass(frozen=True)
class _Candidate:
    campaign: Campaign
    wanted: int
    given: int
    increments: tuple[Increment, ...]


# ------------------------------------------------------------------ facts


def _nearest_birthday_days(birthday: date, today: date) -> int:
    """Days to the nearest birthday, before or after; a 29 February birthday falls on 28 February in other years."""
    def in_year(year: int) -> date:
        try:
            return birthday.replace(year=year)
        except ValueError:
            return date(year, 2, 28)

    return min(abs((in_year(year) - today).days) for year in (today.year - 1, today.year, today.year + 1))


def facts(purchase: Purchase, member: Member, eligible: Eligible, zone: ZoneInfo, at: datetime) -> dict[str, object]:
    """The value of every fact for this purchase at `at` (None: not known, so no condition on it holds).

    `order.item_count` counts the units (quantities) of every line, excluded ones too; `member.purchase_count`
    the purchases before this one; `member.enrolled_days` local days since the day of enrolment;
    `member.days_from_birthday` local days to the nearest birthday, past or coming, 0 on the day.
    """
    today = at.astimezone(zone).date()
    return {
        "order.channel": purchase.channel,
        "order.store_id": purchase.store_id,
        "order.eligible_minor": eligible.amount_minor,
        "order.item_count": sum(item.quantity for item in purchase.items),
        "member.tier": member.tier,
        "member.purchase_count": member.purchases,
        "member.enrolled_days": (today - member.enrolled_at.astimezone(zone).date()).days,
        "member.days_from_birthday": _nearest_birthday_days(member.birthday, today) if member.birthday else None,
    }


# ------------------------------------------------------------------ the engine

_TESTS = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
    "in": lambda seen, value: seen in value, "not_in": lambda seen, value: seen not in value,
}


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _failing(node: Condition, seen: Mapping[str, object]) -> str | None:
    """Why the conditions do not hold (the first failing test, with the value seen), or None when they do."""
    if node.all is not None:
        return next((reason for child in node.all if (reason := _failing(child, seen))), None)
    if node.any is not None:
        reasons = [_failing(child, seen) for child in node.any]
        return None if None in reasons else "none of: " + "; ".join(map(str, reasons))
    value = seen[str(node.fact)]
    if value is not None and _TESTS[str(node.op)](value, node.value):
        return None
    return f"{node.fact} {node.op} {_show(node.value)}: was {_show(value)}"


class _Skip(Exception):
    """A campaign does not apply to this purchase; the message says why."""


def _check_dates(campaign: Campaign, at: datetime) -> None:
    if campaign.starts_at and at < campaign.starts_at:
        raise _Skip(f"starts_at {campaign.starts_at.isoformat()}: was {at.isoformat()}")
    if campaign.ends_at and at >= campaign.ends_at:
        raise _Skip(f"ends_at {campaign.ends_at.isoformat()}: was {at.isoformat()}")


def _check_schedule(schedule: Schedule | None, local: datetime) -> None:
    if schedule is None:
        return
    weekday = WEEKDAYS[local.weekday()]
    if weekday not in schedule.days:
        raise _Skip(f"schedule days {_show(schedule.days)}: was {weekday}")
    clock = local.strftime("%H:%M")  # "HH:MM" strings order like the times they name
    if not schedule.from_ <= clock < schedule.to:
        raise _Skip(f"schedule {schedule.from_}-{schedule.to}: was {clock}")


def _check_conditions(conditions: Condition | None, seen: Mapping[str, object]) -> None:
    reason = _failing(conditions, seen) if conditions else None
    if reason:
        raise _Skip(reason)


def _wanted(campaign: Campaign, eligible: Eligible, points_per_unit: int, unit_minor: int) -> int:
    """What the effect gives before limits (more than 0)."""
    lines = [line for line in eligible.lines
             if not line.excluded and (campaign.applies_to is None or campaign.applies_to.matches(line))]
    if campaign.applies_to is not None and not lines:
        raise _Skip("applies_to: no matching line")
    amount = eligible.amount_minor if campaign.applies_to is None else sum(line.amount_minor for line in lines)
    quantity = sum(line.item.quantity for line in lines)
    effect = campaign.effect
    wanted = effect.wanted(amount, quantity, lambda amount_minor: base_points(amount_minor, points_per_unit, unit_minor))
    if not wanted:
        raise _Skip(f"effect {effect.type}: 0 points on matching amount {amount}, quantity {quantity}")
    return wanted


def counter_key(campaign: Campaign, limit: Limit, day: str) -> CounterKey:
    return CounterKey(campaign.campaign_id, limit.per, day if limit.period == "day" else "campaign")


def within_limits(
    campaign: Campaign, wanted: int, counters: Mapping[CounterKey, Usage], day: str,
) -> tuple[int, tuple[Increment, ...]]:
    """What the limits leave of `wanted` (more than 0) and the counter increments for it."""
    given = wanted
    ceilings: dict[CounterKey, tuple[int | None, int | None]] = {}
    for limit in campaign.limits:
        key = counter_key(campaign, limit, day)
        used = counters.get(key, Usage())
        if limit.max_times is not None:
            if used.times >= limit.max_times:
                raise _Skip(f"limit {limit.describe()}: none left (applied {used.times} times)")
        else:
            assert limit.max_points is not None
            if used.points >= limit.max_points:
                raise _Skip(f"limit {limit.describe()}: none left (gave {used.points} points)")
            given = min(given, limit.max_points - used.points)
        max_points, max_times = ceilings.get(key, (None, None))
        ceilings[key] = (lowest(max_points, limit.max_points), lowest(max_times, limit.max_times))
    increments = tuple(Increment(key, given, 1, *ceiling) for key, ceiling in ceilings.items())
    return given, increments


def lowest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def counter_keys(campaigns: Iterable[Campaign], at: datetime, *, time_zone: str) -> tuple[CounterKey, ...]:
    """The counters `evaluate` reads for a purchase made `at`: what the store must load with the member."""
    day = at.astimezone(ZoneInfo(time_zone)).date().isoformat()
    keys = {counter_key(campaign, limit, day): None for campaign in campaigns for limit in campaign.limits}
    return tuple(keys)


def evaluate(
    campaigns: Sequence[Campaign], purchase: Purchase, member: Member, counters: Mapping[CounterKey, Usage],
    now: datetime, *, time_zone: str, eligible: Eligible, points_per_unit: int, unit_minor: int,
) -> Award:
    """Apply `campaigns` (the active ones) to a purchase by `member` (as before the purchase).

    `counters`: the limit counters read for it (see `counter_keys`; a missing one is zero); `eligible`: the
    basket's eligible amounts (`basket.eligible`); `points_per_unit`, `unit_minor`: the program's earn rule.
    """
    at = purchase.occurred_at or now
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    day = local.date().isoformat()
    seen = facts(purchase, member, eligible, zone, at)
    ordered = sorted(campaigns, key=lambda campaign: campaign.order)
    reasons: dict[str, str] = {}
    candidates: list[_Candidate] = []
    for campaign in ordered:
        try:
            _check_dates(campaign, at)
            _check_schedule(campaign.schedule, local)
            _check_conditions(campaign.conditions, seen)
            wanted = _wanted(campaign, eligible, points_per_unit, unit_minor)
            given, increments = within_limits(campaign, wanted, counters, day)
        except _Skip as skipped:
            reasons[campaign.campaign_id] = str(skipped)
        else:
            candidates.append(_Candidate(campaign, wanted, given, increments))

    best: dict[str, _Candidate] = {}
    for candidate in candidates:  # in order, so a tie keeps the first
        group = candidate.campaign.exclusive_group
        if group and (group not in best or candidate.given > best[group].given):
            best[group] = candidate
    applied = []
    for candidate in candidates:
        group = candidate.campaign.exclusive_group
        if group and best[group] is not candidate:
            winner = best[group]
            reasons[candidate.campaign.campaign_id] = (
                f"exclusive_group {group}: {winner.campaign.campaign_id} applies instead "
                f"({winner.given} points against {candidate.given})"
            )
        else:
            applied.append(candidate)

    return Award(
        points=sum(candidate.given for candidate in applied),
        breakdown=tuple(CampaignPoints(c.campaign.campaign_id, c.given) for c in applied),
        limited=tuple(Limited(c.campaign.campaign_id, c.wanted, c.given) for c in applied if c.given < c.wanted),
        not_applied=tuple(NotApplied(c.campaign_id, reasons[c.campaign_id]) for c in ordered if c.campaign_id in reasons),
        increments=tuple(increment for c in applied for increment in c.increments),
    )


def _may_hold(node: Condition, seen: Mapping[str, object]) -> bool:
    """Whether the conditions can still hold once the member is known (a test on a member fact may)."""
    if node.all is not None:
        return all(_may_hold(child, seen) for child in node.all)
    if node.any is not None:
        return any(_may_hold(child, seen) for child in node.any)
    return str(node.fact).startswith("member.") or _failing(node, seen) is None


def may_apply(campaign: Campaign, purchase: Purchase, eligible: Eligible, now: datetime, *, time_zone: str,
              points_per_unit: int, unit_minor: int) -> bool:
    """Whether `evaluate` could apply the campaign to this purchase, judged without the member and the counters.

    What it refuses, `evaluate` refuses for the same reason (dates, schedule, order facts, an effect worth 0),
    so the caller needs to read the limit counters of these campaigns only.
    """
    at = purchase.occurred_at or now
    seen = {"order.channel": purchase.channel, "order.store_id": purchase.store_id,
            "order.eligible_minor": eligible.amount_minor, "order.item_count": sum(item.quantity for item in purchase.items)}
    try:
        _check_dates(campaign, at)
        _check_schedule(campaign.schedule, at.astimezone(ZoneInfo(time_zone)))
        _wanted(campaign, eligible, points_per_unit, unit_minor)
    except _Skip:
        return False
    return campaign.conditions is None or _may_hold(campaign.conditions, seen)

