"""The earning API models: earn and its preview, returns, adjustments, and the explanation of an earn's points."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from loyalty.api.fields import (
    View, MAX_AMOUNT_MINOR, MAX_POINTS, Amount, Channel, Currency, IdempotencyId, Reason, Request, Text, Timestamp,
)
from loyalty.domain.model import Entry


BasketId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="An id: 1-64 of A-Za-z0-9._:-")]


class PurchaseItem(Request):
    sku: BasketId
    category: BasketId | None = Field(default=None, description="Lines of the program's earn.excluded_categories earn nothing.")
    amount_minor: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT_MINOR, description="The line's total.")]
    quantity: Annotated[int, Field(strict=True, gt=0, le=10_000)] = 1


class EarnRequest(Request):
    transaction_id: IdempotencyId = Field(description="The purchase's id: the idempotency key.")
    amount_minor: Amount
    currency: Currency
    store_id: Annotated[Text, Field(min_length=1, max_length=64)] | None = None
    channel: Channel | None = None
    occurred_at: Timestamp | None = None
    items: Annotated[list[PurchaseItem], Field(max_length=200)] | None = Field(
        default=None, description="The basket: points are earned on its eligible lines, never on more than amount_minor.",
    )


class ReturnRequest(Request):
    transaction_id: IdempotencyId = Field(description="The original purchase's transaction_id.")
    return_id: IdempotencyId = Field(description="The refund's id: the idempotency key.")
    amount_minor: Amount = Field(description="The amount refunded, in minor units.")


class AdjustmentRequest(Request):
    points: Annotated[int, Field(strict=True, ge=-MAX_POINTS, le=MAX_POINTS,
                                 description="Signed: a credit (> 0) or a debit (< 0); never 0.")]
    reason: Reason

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustmentRequest:
        if self.points == 0:
            raise ValueError("points must not be 0")
        return self


class BreakdownLine(View):
    source: Literal["base", "tier", "campaign", "bonus"]
    campaign_id: str | None = Field(description="The campaign, for source campaign; else null.")
    points: int
    program_version: int | None = Field(default=None, description=(
        "The program version whose rules gave this line: the entry's (in force at occurred_at), except a tier line "
        "for a tier added since, which earns the multiplier of the version in force at the earn (null for a purchase "
        "recorded before the program had versions)."))


class LimitedAward(View):
    campaign_id: str
    wanted: int = Field(description="What the campaign's effect gave before its limits.")
    given: int = Field(description="What its limits left.")


class NotAppliedCampaign(View):
    campaign_id: str
    reason: str = Field(description="The first failing condition and the value it saw.")


class Explanation(View):
    """Why an earn credits what it does: base points, then the breakdown (adding up to the points), then limits."""

    base_points: int = Field(description="Points on the eligible amount before tier and campaigns.")
    program_version: int | None = Field(
        default=None, description="The program version whose rules gave base_points and the breakdown's base and tier "
        "lines: the one in force at occurred_at (null for a purchase recorded before the program had versions).")
    breakdown: list[BreakdownLine] = Field(description="Where the points came from; adds up to points.")
    limited: list[LimitedAward] = Field(description="Campaign awards cut by a limit.")

    @staticmethod
    def of_entry(entry: Entry) -> dict[str, Any]:
        version = entry.program_version
        if entry.breakdown is None:  # an entry written before explanations: base and tier from what it kept
            base = entry.qualifying_points or 0
            lines = [BreakdownLine(source="base", campaign_id=None, points=base, program_version=version)]
            if entry.points != base:
                lines.append(BreakdownLine(source="tier", campaign_id=None, points=entry.points - base,
                                           program_version=version))
            return {"base_points": base, "program_version": version, "breakdown": lines, "limited": []}
        return {
            "base_points": entry.base_points or 0, "program_version": version,
            "breakdown": [BreakdownLine(source=line.source, campaign_id=line.campaign_id, points=line.points,
                                        program_version=line.program_version) for line in entry.breakdown],
            "limited": [LimitedAward(campaign_id=cut.campaign_id, wanted=cut.wanted, given=cut.given)
                        for cut in entry.limited or ()],
        }


class EarnResponse(Explanation):
    entry_id: str
    transaction_id: str
    points: int
    balance: int
    tier: str
    tier_changed: bool
    expires_at: datetime
    available_at: datetime | None = Field(description="When the points become spendable (pending until then); null: at once.")

    @classmethod
    def of(cls, entry: Entry) -> EarnResponse:
        return cls(
            entry_id=entry.entry_id, transaction_id=entry.transaction_id or "", points=entry.points,
            balance=entry.balance_after, tier=entry.tier_after or "", tier_changed=bool(entry.tier_changed),
            expires_at=entry.expires_at, available_at=entry.available_at, **Explanation.of_entry(entry),
        )


class EarnPreview(Explanation):
    points: int = Field(description="What the earn would credit now.")
    not_applied: list[NotAppliedCampaign] = Field(description="Every active campaign that would not apply, and why.")

    @classmethod
    def of(cls, entry: Entry, not_applied) -> EarnPreview:
        return cls(points=entry.points, **Explanation.of_entry(entry),
                   not_applied=[NotAppliedCampaign(campaign_id=skip.campaign_id, reason=skip.reason) for skip in not_applied])


class ReturnResponse(View):
    entry_id: str
    return_id: str
    transaction_id: str
    points: int = Field(description="Points taken back (negative or zero).")
    points_unrecovered: int = Field(description="Points the balance could not cover.")
    balance: int
    program_version: int | None = Field(default=None, description=(
        "The program version the purchase earned under: a return takes back a share of what it earned then "
        "(null for a purchase recorded before the program had versions)."))

    @classmethod
    def of(cls, entry: Entry) -> ReturnResponse:
        return cls(
            entry_id=entry.entry_id, return_id=entry.return_id or "", transaction_id=entry.transaction_id or "",
            points=entry.points, points_unrecovered=entry.points_unrecovered or 0, balance=entry.balance_after,
            program_version=entry.program_version,
        )


class AdjustmentResponse(View):
    entry_id: str
    points: int = Field(description="Signed: credited (> 0) or debited (< 0).")
    balance: int
    reason: str
    expires_at: datetime | None = Field(description="When credited points expire; null for a debit.")

    @classmethod
    def of(cls, entry: Entry) -> AdjustmentResponse:
        return cls(entry_id=entry.entry_id, points=entry.points, balance=entry.balance_after, reason=entry.reason or "",
                   expires_at=entry.expires_at)
