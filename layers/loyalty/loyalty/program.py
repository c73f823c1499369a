"""The program document: the published rules every calculation follows."""

from __future__ import annotations

import json
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
    points_per_unit: int = Field(gt=0, le=1000, description="Points per whole currency unit spent.")
    unit_minor: int = Field(gt=0, description="Minor units in one whole currency unit (100 for EUR).")
    excluded_categories: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")], ...] = Field(
        default=(), max_length=100,
        description="Basket lines of these categories earn nothing (gift cards, tax, shipping...).",
    )
    pending_days: int = Field(
        default=0, ge=0, le=90,
        description="Purchase points stay pending (not spendable) this many days after the purchase; 0: available at once.",
    )


class Tier(_Rules):
    name: str = Field(min_length=1, max_length=40)
    min_qualifying_points: int = Field(ge=0)
    earn_multiplier: Multiplier


class Expiry(_Rules):
    months: int = Field(
        ge=1, le=120,
        description="Points expire at the end of the month this many months after they were earned.",
    )


class Bonuses(_Rules):
    welcome: int = Field(ge=0, le=1_000_000)
    referral: int = Field(ge=0, le=1_000_000, description="Paid to referrer and referee on the referee's first purchase.")
    birthday: int = Field(
        default=0, ge=0, le=1_000_000,
        description="Credited by the daily job on the member's birthday (program time zone), once a year; 0: none.",
    )


class TierReview(_Rules):
    max_levels_down: int = Field(
        default=1, ge=1, le=10,
        description="The monthly review lowers a tier by at most this many levels at a time.",
    )


class Program(_Rules):
    name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    earn: EarnRule
    tiers: list[Tier] = Field(min_length=1)
    qualifying_window_months: int = Field(
        ge=1, le=36,
        description="Qualifying points (purchase points before tier multipliers) count for tiers over this many months, the current one included.",
    )
    expiry: Expiry
    bonuses: Bonuses
    point_value_minor: int = Field(gt=0, description="What one point is worth in minor units.")
    time_zone: str = Field(default="UTC", description="Reports count days in this IANA time zone.")
    tier_review: TierReview = TierReview()
    reminder_days: int = Field(default=30, ge=1, le=180, description="Members hear of expiring points this many days ahead.")

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
