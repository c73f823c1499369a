"""The program document: the published rules every calculation follows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

# Multipliers are exact decimals in storage and arithmetic; published as JSON numbers.
Multiplier = Annotated[
    Decimal,
    Field(ge=1, le=10, max_digits=4, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EarnRule(_Rules):
    points_per_unit: int = Field(strict=True, gt=0, le=1000, description="Points per whole currency unit spent.")
    unit_minor: int = Field(strict=True, gt=0, le=1_000_000, description="Minor units in one whole currency unit (100 for EUR).")
    excluded_categories: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")], ...] = Field(
        default=(), max_length=100,
        description="Basket lines of these categories earn nothing (gift cards, tax, shipping...).",
    )
    pending_days: int = Field(
        strict=True, default=0, ge=0, le=90,
        description="Purchase points stay pending (not spendable) this many days after the purchase; 0: available at once.",
    )


class Tier(_Rules):
    name: str = Field(min_length=1, max_length=40)
    min_qualifying_points: int = Field(strict=True, ge=0, le=1_000_000_000)
    earn_multiplier: Multiplier


class Expiry(_Rules):
    months: int = Field(
        strict=True, ge=1, le=120,
        description="Points expire at the end of the month this many months after they were earned.",
    )


class Bonuses(_Rules):
    welcome: int = Field(strict=True, ge=0, le=1_000_000)
    referral: int = Field(strict=True, ge=0, le=1_000_000, description="Paid to referrer and referee on the referee's first purchase.")
    birthday: int = Field(
        strict=True, default=0, ge=0, le=1_000_000,
        description="Credited by the daily job on the member's birthday (program time zone), once a year; 0: none.",
    )


class TierReview(_Rules):
    max_levels_down: int = Field(
        strict=True, default=1, ge=1, le=10,
        description="The monthly review lowers a tier by at most this many levels at a time.",
    )


MAX_QUALIFYING_WINDOW_MONTHS = 36  # members keep their qualifying points of this many months, no more (any version)


class MessageRules(_Rules):
    marketing_per_week: int = Field(
        strict=True, default=2, ge=0, le=50,
        description="At most this many marketing messages (birthday, offer_available) per member in any 7 days; 0: none.")


class Program(_Rules):
    name: str = Field(min_length=1, max_length=100)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    earn: EarnRule
    tiers: list[Tier] = Field(min_length=1, max_length=20)
    qualifying_window_months: int = Field(
        strict=True, ge=1, le=MAX_QUALIFYING_WINDOW_MONTHS,
        description="Qualifying points (purchase points before tier multipliers) count for tiers over this many months, the current one included.",
    )
    expiry: Expiry
    bonuses: Bonuses
    point_value_minor: int = Field(strict=True, gt=0, le=1_000_000, description="What one point is worth in minor units.")
    time_zone: str = Field(default="UTC", description="Reports count days in this IANA time zone.")
    tier_review: TierReview = TierReview()
    reminder_days: int = Field(strict=True, default=30, ge=1, le=180, description="Members hear of expiring points this many days ahead.")
    locale: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$", max_length=35,
                        description="The language (BCP 47) of the messages of a member without a locale of their own, "
                                    "and of those whose locale has no template.")
    messages: MessageRules = MessageRules()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @model_validator(mode="after")
    def _tiers_ascend_from_zero(self) -> Program:
        if self.tiers[0].min_qualifying_points != 0:
            raise ValueError("the first tier must start at 0 qualifying points")
        thresholds = [tier.min_qualifying_points for tier in self.tiers]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tier thresholds must strictly increase")
        if len({tier.name for tier in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be unique")
        return self

    @property
    def base_tier(self) -> Tier:
        return self.tiers[0]

    def tier(self, name: str) -> Tier:
        return self.tiers[self.tier_rank(name)]

    def tier_rank(self, name: str) -> int:
        for rank, tier in enumerate(self.tiers):
            if tier.name == name:
                return rank
        raise KeyError(f"unknown tier {name!r}")

    def tier_for(self, qualifying_points: int) -> Tier:
        reached = [tier for tier in self.tiers if tier.min_qualifying_points <= qualifying_points]
        return reached[-1]

    def next_tier(self, name: str) -> Tier | None:
        rank = self.tier_rank(name)
        return self.tiers[rank + 1] if rank + 1 < len(self.tiers) else None


def load_program(path: Path) -> Program:
    return Program.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


# ------------------------------------------------------------------ versions

SEED_EFFECTIVE_FROM = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the first version is in force from the start
SEED_PUBLISHER = "seed"


@dataclass(frozen=True)
class ProgramVersion:
    """One published program: in force from `effective_from` until the next version's, with who published it."""

    version: int
    effective_from: datetime
    program: Program
    published_at: datetime
    published_by: str
    note: str | None = None


@dataclass(frozen=True)
class ProgramHistory:
    """Every version, oldest first (by effective_from, then number). Non-empty: version 1 is the seed."""

    versions: tuple[ProgramVersion, ...]

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("a program history holds at least its first version")
        object.__setattr__(self, "versions", tuple(sorted(self.versions, key=lambda v: (v.effective_from, v.version))))

    @classmethod
    def seeded(cls, program: Program) -> ProgramHistory:
        """The history before anything is published: the layer's program file as version 1."""
        return cls((ProgramVersion(1, SEED_EFFECTIVE_FROM, program, SEED_EFFECTIVE_FROM, SEED_PUBLISHER,
                                   "the program file the layer ships"),))

    @property
    def newest(self) -> ProgramVersion:
        """The highest number: what a new version must be a valid successor of."""
        return max(self.versions, key=lambda v: v.version)

    def at(self, moment: datetime) -> ProgramVersion:
        """The version in force at `moment`; before the first version, the first (clamped)."""
        found = self.versions[0]
        for version in self.versions:
            if version.effective_from > moment:
                break
            found = version
        return found

    def for_purchase(self, occurred_at: datetime, now: datetime) -> tuple[ProgramVersion, Program]:
        """The version a purchase earns under (in force at `occurred_at`), and the rules the earn applies: that
        version's, with the tier ladder in force `now` (thresholds apply at the next earn, whenever the purchase
        was). Each tier keeps the multiplier the purchase's version gave it; a tier added since keeps its own."""
        version, current = self.at(occurred_at), self.at(now).program
        if version.program.tiers == current.tiers:
            return version, version.program
        then = {tier.name: tier.earn_multiplier for tier in version.program.tiers}
        ladder = [tier.model_copy(update={"earn_multiplier": then.get(tier.name, tier.earn_multiplier)})
                  for tier in current.tiers]
        return version, version.program.model_copy(update={"tiers": ladder})

    def multiplier_versions(self, occurred_at: datetime, now: datetime) -> dict[str, int]:
        """For each tier of the ladder `for_purchase` gives, the version whose multiplier it earns: the purchase's
        version, or, for a tier added since, the version in force `now` (a breakdown's tier line names it)."""
        version, current = self.at(occurred_at), self.at(now)
        then = {tier.name for tier in version.program.tiers}
        return {tier.name: version.version if tier.name in then else current.version for tier in current.program.tiers}


def successor_errors(previous: Program, proposed: Program) -> list[tuple[str, str]]:
    """Why `proposed` may not follow `previous` as a version: (field, message) pairs, none when it may.
    Removing a tier or changing the time zone or currency needs a migration, not a version."""
    problems = []
    if proposed.currency != previous.currency:
        problems.append(("currency", f"must stay {previous.currency}: changing the currency needs a migration"))
    if proposed.time_zone != previous.time_zone:
        problems.append(("time_zone", f"must stay {previous.time_zone}: changing the time zone needs a migration"))
    kept = {tier.name for tier in proposed.tiers}
    removed = [tier.name for tier in previous.tiers if tier.name not in kept]
    if removed:
        problems.append(("tiers", f"may not remove a tier (missing: {', '.join(removed)}); members may hold it"))
    return problems
