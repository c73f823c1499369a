"""A campaign's document: what it is made of, validated.

`parse_campaign` turns the JSON document of the API guide ("Campaigns") into a frozen `Campaign`, refusing
anything the engine could not evaluate with `InvalidCampaign` (422 VALIDATION_ERROR, naming the field):
an unknown fact or op is an error when the campaign is written, never a silent false when it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, SerializerFunctionWrapHandler,
    ValidationError, ValidationInfo, WithJsonSchema, field_validator, model_serializer, model_validator,
)

from loyalty.domain.basket import EligibleLine
from loyalty.domain.errors import DomainError

MAX_DEPTH = 3  # levels of all/any
MAX_CHILDREN = 50
NUMBER_FACTS = ("order.eligible_minor", "order.item_count", "member.purchase_count", "member.enrolled_days",
                "member.days_from_birthday", "member.spend_minor", "member.avg_basket_minor",
                "member.days_since_last_purchase", "member.purchases_90d", "member.spend_90d_minor",
                "member.points_balance", "member.points_expiring_30d", "member.redemptions_count",
                "member.days_since_last_redemption", "member.rfm.r", "member.rfm.f", "member.rfm.m")
BOOLEAN_FACTS = ("member.marketing_opt_in",)
LIST_FACTS = ("member.categories_90d",)
ATTRIBUTE_PREFIX = "member.attributes."  # the business's own: a string, an integer or a boolean
ORDER_OPS = ("gt", "gte", "lt", "lte")
LIST_OPS = ("contains", "contains_any")
PRESENCE_OPS = ("exists", "not_exists")


class InvalidCampaign(DomainError):
    """The campaign document breaks a rule; `details.errors` lists every `{field, message}`."""

    status, code = 422, "VALIDATION_ERROR"


# ------------------------------------------------------------------ the document


class _Document(BaseModel):
    # Built on first use: functions that import the language without evaluating a campaign do not build it.
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True, defer_build=True)


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
KnownFact = Literal[
    "order.channel", "order.store_id", "order.eligible_minor", "order.item_count", "member.tier",
    "member.purchase_count", "member.enrolled_days", "member.days_from_birthday", "member.channel",
    "member.marketing_opt_in", "member.spend_minor", "member.avg_basket_minor", "member.days_since_last_purchase",
    "member.purchases_90d", "member.spend_90d_minor", "member.categories_90d", "member.points_balance",
    "member.points_expiring_30d", "member.redemptions_count", "member.days_since_last_redemption",
    "member.rfm.r", "member.rfm.f", "member.rfm.m",
]
KNOWN_FACTS: tuple[str, ...] = get_args(KnownFact)
ATTRIBUTE_FACT = r"^member\.attributes\.[a-z][a-z0-9_]{0,39}$"


def _known_fact(fact: str) -> str:
    if fact not in KNOWN_FACTS and not re.fullmatch(ATTRIBUTE_FACT, fact):
        raise ValueError(f"Input should be one of {', '.join(KNOWN_FACTS)} or member.attributes.<name>")
    return fact


Fact = Annotated[str, AfterValidator(_known_fact), WithJsonSchema(
    {"anyOf": [{"type": "string", "enum": list(KNOWN_FACTS)}, {"type": "string", "pattern": ATTRIBUTE_FACT}]})]
Op = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "contains_any", "exists", "not_exists"]
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


def _is_scalar(value: object) -> bool:
    return isinstance(value, bool) or _is_number(value) or _is_text(value)


def _kind(fact: str) -> tuple[str, Callable[[object], bool]]:
    """What a fact holds, and the test of a value compared with it."""
    if fact in NUMBER_FACTS:
        return "number", _is_number
    if fact in BOOLEAN_FACTS:
        return "boolean", lambda value: isinstance(value, bool)
    if fact in LIST_FACTS:
        return "list of strings", _is_text
    if fact.startswith(ATTRIBUTE_PREFIX):
        return "string, integer or boolean", _is_scalar
    return "string", _is_text


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
        kind, accepts = _kind(self.fact)
        if self.op in PRESENCE_OPS:
            if self.value is not None:
                raise ValueError(f"{self.op} takes no value")
            return
        if (self.op in LIST_OPS) != (self.fact in LIST_FACTS):
            raise ValueError(f"{self.op} does not apply to {self.fact} ({kind}); contains and contains_any test lists")
        if self.op in ORDER_OPS and kind not in ("number", "string, integer or boolean"):
            raise ValueError(f"{self.op} compares numbers; {self.fact} is a {kind} (use eq, ne, in or not_in)")
        if self.op in ORDER_OPS:
            accepts = _is_number
        if self.op in ("in", "not_in", "contains_any"):
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
    """(factor - 1) x the base points of the matching amount."""

    type: Literal["multiply"]
    factor: Factor

    def wanted(self, amount_minor: int, quantity: int, base: Callable[[int], int]) -> int:
        return int(((self.factor - 1) * base(amount_minor)).to_integral_value(rounding=ROUND_FLOOR))


class Bonus(_Document):
    """Once (with `applies_to`, only when a line matches)."""

    type: Literal["bonus"]
    points: Count

    def wanted(self, amount_minor: int, quantity: int, base: Callable[[int], int]) -> int:
        return self.points


class PerItem(_Document):
    """Per unit of quantity of the matching lines."""

    type: Literal["per_item"]
    points: Count

    def wanted(self, amount_minor: int, quantity: int, base: Callable[[int], int]) -> int:
        return self.points * quantity


class PerAmount(_Document):
    """Per whole `unit_minor` of the matching amount."""

    type: Literal["per_amount"]
    points: Count
    unit_minor: Count

    def wanted(self, amount_minor: int, quantity: int, base: Callable[[int], int]) -> int:
        return self.points * (amount_minor // self.unit_minor)


# An effect gives `wanted(matching amount, matching quantity, base points of an amount)` points before limits (the
# engine skips a campaign whose effect gives 0). A new effect is a class here, with its `type`, added to this union.
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


class Audience(_Document):
    """Who a campaign is for: members in any of `segments` (everyone when empty) and in none of `exclude_segments`."""

    segments: tuple[Id, ...] = Field(default=(), max_length=20)
    exclude_segments: tuple[Id, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _names_something(self) -> Audience:
        if not self.segments and not self.exclude_segments:
            raise ValueError("audience names no segment; leave it out to offer the campaign to every member")
        return self

    @property
    def segment_ids(self) -> tuple[str, ...]:
        return (*self.segments, *self.exclude_segments)

    def includes(self, member_segments: frozenset[str]) -> bool:
        return ((not self.segments or any(segment in member_segments for segment in self.segments))
                and not any(segment in member_segments for segment in self.exclude_segments))


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
    audience: Audience | None = None
    activation: Literal["automatic", "required"] = "automatic"
    holdout_percent: Annotated[int, Field(strict=True, ge=0, le=50)] = 0

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

