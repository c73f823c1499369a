"""Campaigns: documents that change what a purchase earns, and the pure engine that applies them.

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
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated, Any, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, SerializerFunctionWrapHandler,
    ValidationError, ValidationInfo, field_validator, model_serializer, model_validator,
)

from loyalty.domain.basket import Eligible, EligibleLine, base_points
from loyalty.domain.errors import DomainError
from loyalty.domain.model import Member, Purchase

MAX_DEPTH = 3  # levels of all/any
MAX_CHILDREN = 50
NUMBER_FACTS = ("order.eligible_minor", "order.item_count", "member.purchase_count", "member.enrolled_days",
                "member.days_from_birthday")
ORDER_OPS = ("gt", "gte", "lt", "lte")


class InvalidCampaign(DomainError):
    """The campaign document breaks a rule; `details.errors` lists every `{field, message}`."""

    status, code = 422, "VALIDATION_ERROR"


# ------------------------------------------------------------------ the document


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


def _only_strings(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _decimal_string(value: object) -> object:
    # A string, so that "1.1" means exactly 1.1: a JSON number would pass through a float first.
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}(\.\d{1,2})?", value):
        raise ValueError('must be a decimal string such as "2" or "1.5"')
    return value


Id = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]
Text = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]*$")]  # no control characters
Count = Annotated[int, Field(strict=True, gt=0, le=1_000_000_000)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_only_strings)]
Factor = Annotated[Decimal, BeforeValidator(_decimal_string), Field(gt=1, le=10), PlainSerializer(str, return_type=str)]
Clock = Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", description="Local time, HH:MM.")]
Fact = Literal["order.channel", "order.store_id", "order.eligible_minor", "order.item_count", "member.tier",
               "member.purchase_count", "member.enrolled_days", "member.days_from_birthday"]
Op = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)  # in date.weekday() order


class Schedule(_Document):
    """Weekdays and a local time window, `from` included, `to` excluded ("24:00": to the end of the day)."""

    days: tuple[Weekday, ...] = Field(default=WEEKDAYS, min_length=1)
    from_: Clock = Field(default="00:00", alias="from")
    to: Clock = "24:00"

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)  # "from" on the wire

    @model_validator(mode="after")
    def _window(self) -> Schedule:
        if self.from_ >= self.to:
            raise ValueError(f"from ({self.from_}) must be before to ({self.to}); a window cannot cross midnight")
        if len(set(self.days)) != len(self.days):
            raise ValueError("days must not repeat")
        return self


def _is_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 128 and value.isprintable()


class Condition(_Document):
    """A node of the conditions: a group (`all` or `any` of nodes) or a test (`fact`, `op`, `value`)."""

    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None
    fact: Fact | None = None
    op: Op | None = None
    value: Any = None

    @field_validator("value")
    @classmethod
    def _frozen_list(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_shape(self) -> Condition:
        shapes = [self.all is not None, self.any is not None, self.fact is not None or self.op is not None]
        if sum(shapes) != 1:
            raise ValueError("a condition is either {all: [...]}, {any: [...]} or {fact, op, value}")
        if shapes[2]:
            self._check_test()
        # Checked here, not by Field(min_length): pydantic would also report an empty list when a child is invalid.
        elif not 1 <= len(self.all or self.any or ()) <= MAX_CHILDREN:
            raise ValueError(f"all and any take 1 to {MAX_CHILDREN} conditions")
        return self

    def _check_test(self) -> None:
        if self.fact is None or self.op is None:
            raise ValueError("a condition needs fact, op and value")
        kind, accepts = ("number", _is_number) if self.fact in NUMBER_FACTS else ("string", _is_text)
        if self.op in ORDER_OPS and kind == "string":
            raise ValueError(f"{self.op} compares numbers; {self.fact} is text (use eq, ne, in or not_in)")
        if self.op in ("in", "not_in"):
            if not isinstance(self.value, tuple) or not 1 <= len(self.value) <= 100 or not all(map(accepts, self.value)):
                raise ValueError(f"{self.op} on {self.fact} needs a list of 1 to 100 {kind}s")
        elif not accepts(self.value):
            raise ValueError(f"{self.op} on {self.fact} needs a {kind}")

    @model_serializer(mode="wrap")
    def _only_its_shape(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {name: value for name, value in handler(self).items() if value is not None}

    @property
    def depth(self) -> int:
        children = self.all or self.any
        return 1 + max(child.depth for child in children) if children else 0


class AppliesTo(_Document):
    categories: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field(default=(), max_length=100)
    skus: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field(default=(), max_length=100)

    @model_validator(mode="after")
    def _names_something(self) -> AppliesTo:
        if not self.categories and not self.skus:
            raise ValueError("applies_to names no category and no sku; leave it out to count the whole eligible amount")
        return self

    def matches(self, line: EligibleLine) -> bool:
        return line.item.sku in self.skus or (line.item.category is not None and line.item.category in self.categories)


class Multiply(_Document):
    type: Literal["multiply"]
    factor: Factor


class Bonus(_Document):
    type: Literal["bonus"]
    points: Count


class PerItem(_Document):
    type: Literal["per_item"]
    points: Count


class PerAmount(_Document):
    type: Literal["per_amount"]
    points: Count
    unit_minor: Count


Effect = Annotated[Multiply | Bonus | PerItem | PerAmount, Field(discriminator="type")]


class Limit(_Document):
    per: Literal["member", "campaign"]
    period: Literal["day", "campaign"]
    max_points: Count | None = None
    max_times: Count | None = None

    @model_validator(mode="after")
    def _one_maximum(self) -> Limit:
        if (self.max_points is None) == (self.max_times is None):
            raise ValueError("a limit has exactly one of max_points and max_times")
        return self

    def describe(self) -> str:
        return f"{self.per}/{self.period} " + (f"max_points {self.max_points}" if self.max_points is not None else f"max_times {self.max_times}")


class Campaign(_Document):
    campaign_id: Id
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    description: Annotated[Text, Field(max_length=2000)] = ""
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    schedule: Schedule | None = None
    conditions: Condition | None = None
    applies_to: AppliesTo | None = None
    effect: Effect
    limits: tuple[Limit, ...] = Field(default=(), max_length=10)
    priority: Annotated[int, Field(strict=True, ge=-1_000_000, le=1_000_000)] = 0
    exclusive_group: Id | None = None

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, ends_at: datetime | None, info: ValidationInfo) -> datetime | None:
        starts_at = info.data.get("starts_at")
        if starts_at and ends_at and ends_at <= starts_at:
            raise ValueError("must be after starts_at")
        return ends_at

    @field_validator("conditions")
    @classmethod
    def _group_not_too_deep(cls, conditions: Condition | None) -> Condition | None:
        if conditions is not None:
            if conditions.fact is not None:
                raise ValueError("must be a group: {all: [...]} or {any: [...]}")
            if conditions.depth > MAX_DEPTH:
                raise ValueError(f"all/any nest {conditions.depth} levels deep; at most {MAX_DEPTH}")
        return conditions

    @property
    def order(self) -> tuple[int, str]:
        """Sorts campaigns into evaluation order: priority higher first, then campaign_id."""
        return -self.priority, self.campaign_id


def parse_campaign(document: object) -> Campaign:
    """The campaign a JSON document describes, or `InvalidCampaign` listing every problem with its field."""
    try:
        return Campaign.model_validate(document)
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(part) for part in problem["loc"]) or "campaign",
             "message": problem["msg"].removeprefix("Value error, ")}
            for problem in error.errors()
        ]
        first = problems[0]
        raise InvalidCampaign(f"the campaign is not valid: {first['field']}: {first['message']}", errors=problems) from None


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
    if isinstance(effect, Multiply):
        extra = (effect.factor - 1) * base_points(amount, points_per_unit, unit_minor)
        wanted = int(extra.to_integral_value(rounding=ROUND_FLOOR))
    elif isinstance(effect, Bonus):
        wanted = effect.points
    elif isinstance(effect, PerItem):
        wanted = effect.points * quantity
    else:
        wanted = effect.points * (amount // effect.unit_minor)
    if not wanted:
        raise _Skip(f"effect {effect.type}: 0 points on matching amount {amount}, quantity {quantity}")
    return wanted


def _key(campaign: Campaign, limit: Limit, day: str) -> CounterKey:
    return CounterKey(campaign.campaign_id, limit.per, day if limit.period == "day" else "campaign")


def _within_limits(
    campaign: Campaign, wanted: int, counters: Mapping[CounterKey, Usage], day: str,
) -> tuple[int, tuple[Increment, ...]]:
    """What the limits leave of `wanted` (more than 0) and the counter increments for it."""
    given = wanted
    ceilings: dict[CounterKey, tuple[int | None, int | None]] = {}
    for limit in campaign.limits:
        key = _key(campaign, limit, day)
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
        ceilings[key] = (_lowest(max_points, limit.max_points), _lowest(max_times, limit.max_times))
    increments = tuple(Increment(key, given, 1, *ceiling) for key, ceiling in ceilings.items())
    return given, increments


def _lowest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def counter_keys(campaigns: Iterable[Campaign], at: datetime, *, time_zone: str) -> tuple[CounterKey, ...]:
    """The counters `evaluate` reads for a purchase made `at`: what the store must load with the member."""
    day = at.astimezone(ZoneInfo(time_zone)).date().isoformat()
    keys = {_key(campaign, limit, day): None for campaign in campaigns for limit in campaign.limits}
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
            given, increments = _within_limits(campaign, wanted, counters, day)
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


# ------------------------------------------------------------------ counters in all, spread over shards


def share(maximum: int, shard: int, shards: int = CAMPAIGN_SHARDS) -> int:
    """The part of a limit's `maximum` that `shard` holds: the shares differ by at most 1 and add up to `maximum`."""
    return maximum // shards + (1 if shard < maximum % shards else 0)


def stored_keys(counters: Iterable[CounterKey], shards: int = CAMPAIGN_SHARDS) -> tuple[CounterKey, ...]:
    """The items to read for these counters: a member's counter is one item, a counter in all is its every shard."""
    return tuple(shard_key for key in counters
                 for shard_key in ([key.in_shard(shard) for shard in range(shards)] if key.spread else [key]))


def totals(read: Mapping[CounterKey, Usage]) -> dict[CounterKey, Usage]:
    """What the engine sees: each counter in all as the sum of the shards read (a missing shard is zero)."""
    summed: dict[CounterKey, Usage] = {}
    for key, usage in read.items():
        whole = summed.get(key.whole, Usage())
        summed[key.whole] = Usage(whole.points + usage.points, whole.times + usage.times)
    return summed


def spread(increments: Iterable[Increment], read: Mapping[CounterKey, Usage], home: int,
           shards: int = CAMPAIGN_SHARDS) -> tuple[Increment, ...]:
    """The increments to write: a member's as they are; one in all, in its shards, each within its share.

    The member's `home` shard takes what it has room for, then the others in order: an award the engine allowed
    (at most the limit less the sum of the shards read) always fits, since no shard holds more than its share.
    Each part's ceiling is its shard's share, so the shards' sum never passes the limit. An increment without
    ceilings (a campaign's statistics) goes to the home shard whole.
    """
    written: list[Increment] = []
    for increment in increments:
        if not increment.key.spread:
            written.append(increment)
            continue
        order = [home, *(shard for shard in range(shards) if shard != home)]
        points = _fill(increment.points, increment.max_points, "points", increment.key, read, order, shards)
        times = _fill(increment.times, increment.max_times, "times", increment.key, read, order, shards)
        if increment.max_times is None and times:  # times unlimited: counted with the first points taken
            times = {next(iter(points), home): increment.times}
        if increment.max_points is None and points and increment.max_times is not None:
            points = {next(iter(times)): increment.points}
        for shard in order:
            if shard in points or shard in times:
                written.append(Increment(
                    increment.key.in_shard(shard), points.get(shard, 0), times.get(shard, 0),
                    share(increment.max_points, shard, shards) if increment.max_points is not None else None,
                    share(increment.max_times, shard, shards) if increment.max_times is not None else None,
                ))
    return tuple(written)


def _fill(amount: int, maximum: int | None, field: str, key: CounterKey, read: Mapping[CounterKey, Usage],
          order: list[int], shards: int) -> dict[int, int]:
    """How much of `amount` each shard takes, in `order`, each up to the room its share leaves."""
    if not amount:
        return {}
    if maximum is None:
        return {order[0]: amount}
    taken: dict[int, int] = {}
    left = amount
    for shard in order:
        room = share(maximum, shard, shards) - getattr(read.get(key.in_shard(shard), Usage()), field)
        if room > 0 and left:
            taken[shard] = min(room, left)
            left -= taken[shard]
    if left:
        raise ValueError(f"{amount} {field} do not fit in the shards of {key}: the engine allowed more than is left")
    return taken


# ------------------------------------------------------------------ the transaction's items

TRANSACTION_ITEMS = 100  # what one TransactWriteItems holds
T = TypeVar("T")


def _ceilings(campaign: Campaign, day: str) -> dict[CounterKey, tuple[int | None, int | None]]:
    """Each counter of the campaign's limits with its lowest max_points and max_times (as `_within_limits`)."""
    ceilings: dict[CounterKey, tuple[int | None, int | None]] = {}
    for limit in campaign.limits:
        key = _key(campaign, limit, day)
        max_points, max_times = ceilings.get(key, (None, None))
        ceilings[key] = (_lowest(max_points, limit.max_points), _lowest(max_times, limit.max_times))
    return ceilings


def confine(read: Mapping[CounterKey, Usage], campaigns: Sequence[Campaign], at: datetime, *, time_zone: str,
            home: int, room: int, shards: int = CAMPAIGN_SHARDS) -> dict[CounterKey, Usage]:
    """`read` as seen by an earn that may write at most `room` campaign counter items.

    Whatever applies, each of these campaigns (in evaluation order) writes one item per counter of the member
    and, without a limit in all over the campaign, one statistics item: those are set aside first. What is left
    goes to the counters in all: one shard each in order while any is left, then more shards, again in order, up
    to all of them. A counter in all may use only the shards it was given (home first, then the others in order,
    among those with room left); the others are shown full, so the engine's limits cut the award to what those
    shards hold (`limited`) and `spread` writes no other shard. With room enough, `read` is returned as it is.
    """
    day = at.astimezone(ZoneInfo(time_zone)).date().isoformat()
    set_aside, in_all = 0, {}
    for campaign in sorted(campaigns, key=lambda campaign: campaign.order):
        ceilings = _ceilings(campaign, day)
        set_aside += sum(not key.spread for key in ceilings)
        set_aside += CounterKey(campaign.campaign_id, "campaign", "campaign") not in ceilings
        in_all.update({key: ceiling for key, ceiling in ceilings.items() if key.spread})
    left = max(0, room - set_aside)
    slots = dict.fromkeys(in_all, 0)
    while left and any(count < shards for count in slots.values()):
        for key in slots:
            if left and slots[key] < shards:
                slots[key] += 1
                left -= 1
    if all(count == shards for count in slots.values()):
        return dict(read)
    confined = dict(read)
    order = [home, *(shard for shard in range(shards) if shard != home)]
    for key, ceiling in in_all.items():
        shown_full = {shard: _full(read.get(key.in_shard(shard), Usage()), ceiling, shard, shards) for shard in order}
        with_room = [shard for shard in order if _has_room(read.get(key.in_shard(shard), Usage()), ceiling, shard, shards)]
        given = set(with_room[:slots[key]])
        for shard in order:
            if shard not in given:
                confined[key.in_shard(shard)] = shown_full[shard]
    return confined


def _full(used: Usage, ceiling: tuple[int | None, int | None], shard: int, shards: int) -> Usage:
    """The shard's usage with each limited field at its share at least: no room left."""
    max_points, max_times = ceiling
    return Usage(max(used.points, share(max_points, shard, shards)) if max_points is not None else used.points,
                 max(used.times, share(max_times, shard, shards)) if max_times is not None else used.times)


def _has_room(used: Usage, ceiling: tuple[int | None, int | None], shard: int, shards: int) -> bool:
    """Whether the shard can take one more purchase under every limit on its counter."""
    max_points, max_times = ceiling
    return ((max_points is None or used.points < share(max_points, shard, shards))
            and (max_times is None or used.times < share(max_times, shard, shards)))


def within_transaction(
    decide: Callable[[Mapping[CounterKey, Usage]], T], whole_increments: Callable[[T], Sequence[Increment]],
    room: Callable[[T], int], read: Mapping[CounterKey, Usage], campaigns: Sequence[Campaign], at: datetime, *,
    time_zone: str, home: int, shards: int = CAMPAIGN_SHARDS,
) -> tuple[T, tuple[Increment, ...]]:
    """Decide an earn on the shards `read`, and the counter increments it writes, within the transaction's items.

    `decide` makes the decision (an award, or the earn's change) from shards read; `whole_increments` are its
    counters to add to (in all, whole); `room` the items the transaction leaves it for them. When the spread
    takes more, the decision is made again on `confine`d shards: what no longer fits is cut like any limit.
    """
    decided = decide(read)
    increments = spread(whole_increments(decided), read, home, shards)
    left = room(decided)
    if len(increments) <= left:
        return decided, increments
    confined = confine(read, campaigns, at, time_zone=time_zone, home=home, room=left, shards=shards)
    decided = decide(confined)
    increments = spread(whole_increments(decided), confined, home, shards)
    if len(increments) > room(decided):  # confine sets aside the most any outcome writes: never expected
        raise AssertionError(f"{len(increments)} campaign counter items do not fit in the {room(decided)} left")
    return decided, increments


# ------------------------------------------------------------------ statistics, off the earn's transaction


def statistics_later(award: Award | None) -> tuple[str, ...]:
    """The applied campaigns whose statistics (points_awarded, times_applied) the earn's transaction does not add:
    those without a limit in all over the campaign, whose counter is the statistics. The ledger stream's consumer
    adds them (`statistics_lines`); the others are counted, exactly, by the limit counter the earn writes."""
    if award is None:
        return ()
    counted = {increment.key.campaign_id for increment in award.increments
               if increment.key.whole == CounterKey(increment.key.campaign_id, "campaign", "campaign")}
    return tuple(line.campaign_id for line in award.breakdown if line.campaign_id not in counted)


def statistics_increments(lines: Iterable[tuple[str, int]], home: int) -> tuple[Increment, ...]:
    """What the stream's consumer adds for an entry's campaign lines (campaign id, points): each campaign's
    statistics in the member's home shard, one time applied, no ceiling (no limit counts them)."""
    return tuple(Increment(CounterKey(campaign_id, "campaign", "campaign", home), points, 1, None, None)
                 for campaign_id, points in lines)
