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
from datetime import datetime
from zoneinfo import ZoneInfo


from loyalty.domain.basket import Eligible, base_points
from loyalty.domain.facts import RfmBoundaries, condition_facts, member_facts
from loyalty.domain.holdout import held_out
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


def facts(purchase: Purchase, member: Member, eligible: Eligible, time_zone: str, at: datetime,
          rfm: RfmBoundaries | None = None) -> dict[str, object]:
    """The value of every fact for this purchase at `at` (None: not known, so no condition on it holds).

    `order.item_count` counts the units (quantities) of every line, excluded ones too; the member's facts are those
    of `domain.facts` (`member.<fact>`, `member.rfm.r`, `member.attributes.<name>`), on the member as before the
    purchase: `member.purchase_count` counts the purchases before this one, `member.enrolled_days` local days since
    the day of enrolment, `member.days_from_birthday` local days to the nearest birthday, 0 on the day; `member.rfm.*`
    against `rfm`, the published boundaries (None: none yet, no condition on them holds)."""
    return {
        "order.channel": purchase.channel,
        "order.store_id": purchase.store_id,
        "order.eligible_minor": eligible.amount_minor,
        "order.item_count": sum(item.quantity for item in purchase.items),
        **condition_facts(member_facts(member, at, time_zone, rfm)),
    }


# ------------------------------------------------------------------ the engine

def _same(seen: object, value: object) -> bool:
    """Equal and of the same kind: an attribute's true is not 1."""
    return isinstance(seen, bool) == isinstance(value, bool) and seen == value


_TESTS = {
    "eq": _same, "ne": lambda seen, value: not _same(seen, value),
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
    "in": lambda seen, value: any(_same(seen, one) for one in value),
    "not_in": lambda seen, value: not any(_same(seen, one) for one in value),
    "contains": lambda seen, value: value in seen,
    "contains_any": lambda seen, value: any(one in seen for one in value),
    "exists": lambda seen, value: True,
}


def _compares(seen: object, op: str) -> bool:
    """Whether an order op can compare the value seen (an attribute may hold text where a number was expected)."""
    return op not in ("gt", "gte", "lt", "lte") or (isinstance(seen, int) and not isinstance(seen, bool))


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
    value = seen.get(str(node.fact))  # an attribute the member lacks is absent
    if node.op == "not_exists":
        return None if value is None else f"{node.fact} not_exists: was {_show(value)}"
    if value is not None and _compares(value, str(node.op)) and _TESTS[str(node.op)](value, node.value):
        return None
    return f"{node.fact} {node.op} {_show(node.value)}: was {_show(value)}"


class _Skip(Exception):
    """A campaign does not apply to this purchase; the message says why."""


def _check_dates(campaign: Campaign, at: datetime) -> None:
    if campaign.starts_at and at < campaign.starts_at:
        raise _Skip(f"starts_at {campaign.starts_at.isoformat()}: was {at.isoformat()}")
    if campaign.ends_at and at >= campaign.ends_at:
        raise _Skip(f"ends_at {campaign.ends_at.isoformat()}: was {at.isoformat()}")


NOT_IN_AUDIENCE, NOT_ACTIVATED = "NOT_IN_AUDIENCE", "NOT_ACTIVATED"


def hidden_from(campaign: Campaign, member: Member) -> bool:
    """Whether the member is in the campaign's holdout: it never applies to them and they are never told of it."""
    return held_out(campaign.campaign_id, member.member_id, campaign.holdout_percent)


def check_personal(campaign: Campaign, member: Member, segments: frozenset[str]) -> None:
    """The campaign's audience includes the member (by the segments it is in) and, for an offer that requires
    activation, the member activated it."""
    if campaign.audience is not None and not campaign.audience.includes(segments):
        raise _Skip(NOT_IN_AUDIENCE)
    if campaign.activation == "required" and campaign.campaign_id not in member.activated:
        raise _Skip(NOT_ACTIVATED)


def holds(node: Condition, seen: Mapping[str, object]) -> bool:
    """Whether the conditions hold on these facts, as `_failing` decides it but without saying why (segments,
    offers: many rules per member, so no reason is formatted)."""
    if node.all is not None:
        return all(holds(child, seen) for child in node.all)
    if node.any is not None:
        return any(holds(child, seen) for child in node.any)
    value = seen.get(str(node.fact))
    if node.op == "not_exists":
        return value is None
    return value is not None and _compares(value, str(node.op)) and _TESTS[str(node.op)](value, node.value)


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
    segments: frozenset[str] = frozenset(), rfm: RfmBoundaries | None = None,
) -> Award:
    """Apply `campaigns` (the active ones) to a purchase by `member` (as before the purchase).

    `counters`: the limit counters read for it (see `counter_keys`; a missing one is zero); `eligible`: the
    basket's eligible amounts (`basket.eligible`); `points_per_unit`, `unit_minor`: the program's earn rule;
    `segments`: the segments the member is in now (of those the campaigns' audiences name). A campaign that
    holds the member out is left out altogether: not applied, and not listed as not applied.
    """
    at = purchase.occurred_at or now
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    day = local.date().isoformat()
    seen = facts(purchase, member, eligible, time_zone, at, rfm)
    ordered = [campaign for campaign in sorted(campaigns, key=lambda campaign: campaign.order)
               if not hidden_from(campaign, member)]
    reasons: dict[str, str] = {}
    candidates: list[_Candidate] = []
    for campaign in ordered:
        try:
            _check_dates(campaign, at)
            check_personal(campaign, member, segments)
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

