"""The rewards API models: the catalog, redemptions and their cancellation, vouchers, and reward administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool, model_validator

from loyalty.api.fields import MAX_AMOUNT_MINOR, MAX_POINTS, REWARD_ID_PATTERN, Points, Request, Text, Timestamp, View
from loyalty.domain.model import Entry, Reward, Voucher


class RedemptionRequest(Request):
    reward_id: Annotated[str, Field(pattern=REWARD_ID_PATTERN)] | None = None
    points: Points | None = Field(default=None, description="A discount worth points × point_value_minor.")

    @model_validator(mode="after")
    def _exactly_one(self) -> RedemptionRequest:
        if (self.reward_id is None) == (self.points is None):
            raise ValueError("give either reward_id or points")
        return self


class RedemptionResponse(View):
    redemption_id: str
    reward_id: str | None
    points: int = Field(description="Points spent.")
    balance: int
    voucher_code: str
    value_minor: int

    @classmethod
    def of(cls, entry: Entry) -> RedemptionResponse:
        return cls(
            redemption_id=entry.entry_id, reward_id=entry.reward_id, points=-entry.points,
            balance=entry.balance_after, voucher_code=entry.voucher_code or "", value_minor=entry.value_minor or 0,
        )


class CancelResponse(View):
    entry_id: str
    redemption_id: str
    reward_id: str | None
    voucher_code: str
    points: int = Field(description="Points given back (0 or more).")
    points_forfeited: int = Field(description="Points the redemption took from lots that have expired since: not given back.")
    balance: int

    @classmethod
    def of(cls, entry: Entry) -> CancelResponse:
        return cls(entry_id=entry.entry_id, redemption_id=entry.redemption_id or "", reward_id=entry.reward_id,
                   voucher_code=entry.voucher_code or "", points=entry.points,
                   points_forfeited=entry.points_forfeited or 0, balance=entry.balance_after)


class RewardItem(View):
    reward_id: str
    name: str
    description: str
    kind: Literal["discount", "free_item", "perk"]
    points: int
    value_minor: int
    min_tier: str | None
    available: bool
    starts_at: datetime | None = Field(default=None, description="Redeemable from (null: no start).")
    ends_at: datetime | None = Field(default=None, description="Redeemable until, exclusive (null: no end).")
    per_member_limit: int | None = Field(default=None, description="Redemptions per member, ever (null: no limit).")

    @classmethod
    def of(cls, reward: Reward, available: bool) -> RewardItem:
        return cls(
            reward_id=reward.reward_id, name=reward.name, description=reward.description, kind=reward.kind,
            points=reward.points, value_minor=reward.value_minor, min_tier=reward.min_tier, available=available,
            starts_at=reward.starts_at, ends_at=reward.ends_at, per_member_limit=reward.per_member_limit,
        )


class RewardsPage(View):
    items: list[RewardItem]
    next_cursor: str | None = None


RewardKind = Literal["discount", "free_item", "perk"]


class RewardFields(Request):
    """What `PUT /v1/rewards/{reward_id}` replaces: every field but the id and the stock."""

    name: Annotated[Text, Field(min_length=1, max_length=200)]
    description: Annotated[Text, Field(max_length=2000)]
    kind: RewardKind
    points: Points = Field(description="Its cost in points.")
    value_minor: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT_MINOR)]
    min_tier: Annotated[Text, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="A tier of the program (null: every tier).")
    active: StrictBool = True
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = Field(default=None, description="Exclusive; after starts_at.")
    per_member_limit: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] | None = Field(
        default=None, description="Redemptions per member, ever (null: no limit).")

    @model_validator(mode="after")
    def _window(self) -> RewardFields:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def reward(self, reward_id: str) -> Reward:
        return Reward(**{"reward_id": reward_id, **self.model_dump()})


class RewardCreate(RewardFields):
    reward_id: Annotated[str, Field(pattern=REWARD_ID_PATTERN)]
    stock: Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS)] | None = Field(
        default=None, description="How many are left (null: unlimited, and then it stays unlimited).")


class RewardView(View):
    """A reward as the back office sees it."""

    reward_id: str
    name: str
    description: str
    kind: RewardKind
    points: int
    value_minor: int
    min_tier: str | None
    active: bool
    stock: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    per_member_limit: int | None

    @classmethod
    def of(cls, reward: Reward) -> RewardView:
        return cls(**{name: getattr(reward, name) for name in cls.model_fields})


class StockChange(Request):
    delta: Annotated[int, Field(strict=True, ge=-MAX_POINTS, le=MAX_POINTS)] = Field(
        description="Added to the stock (negative: taken off); not 0.")

    @model_validator(mode="after")
    def _not_zero(self) -> StockChange:
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self


class StockView(View):
    reward_id: str
    stock: int


VOUCHER_CODE_PATTERN = r"^[A-Z0-9]{4,32}$"


class VoucherView(View):
    voucher_code: str
    member_id: str
    redemption_id: str
    reward_id: str | None = Field(description="null for a points discount")
    value_minor: int
    status: Literal["issued", "used", "cancelled"]
    issued_at: datetime
    used_at: datetime | None
    store_id: str | None = Field(description="Where it was used, when the till said.")

    @classmethod
    def of(cls, voucher: Voucher) -> VoucherView:
        return cls(**{name: getattr(voucher, name) for name in cls.model_fields})


class UseVoucherRequest(Request):
    store_id: Annotated[Text, Field(min_length=1, max_length=64)] | None = None
