"""The offers' API models: `GET /v1/members/{member_id}/offers` and `POST .../offers/{campaign_id}/activate`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from loyalty.api.fields import View
from loyalty.domain.campaigns.document import AppliesTo, Effect, Schedule
from loyalty.domain.offers import Offer


class RemainingView(View):
    points: int | None = Field(description="What the tightest points limit leaves this member now; null: no such limit.")
    times: int | None = Field(description="What the tightest times limit leaves; null: no such limit.")


class OfferView(View):
    campaign_id: str
    name: str
    description: str
    effect: Annotated[Effect, Field()]
    applies_to: AppliesTo | None
    starts_at: datetime | None
    ends_at: datetime | None
    schedule: Schedule | None
    activation: Literal["automatic", "required"]
    activated: bool = Field(description="Whether the member activated it: a required offer applies only once activated.")
    remaining: RemainingView | None = Field(description="What its limits leave this member; null: no limits.")

    @classmethod
    def of(cls, offer: Offer) -> OfferView:
        campaign = offer.campaign
        remaining = offer.remaining
        return cls.model_validate({
            **campaign.model_dump(mode="json", include={"campaign_id", "name", "description", "effect", "applies_to",
                                                        "starts_at", "ends_at", "schedule", "activation"}),
            "activated": offer.activated,
            "remaining": {"points": remaining.points, "times": remaining.times} if remaining else None,
        })


class OfferPage(View):
    items: list[OfferView] = Field(description="Soonest ending first.")
    next_cursor: str | None = Field(description="Always null: every offer fits on one page.")


class ActivationView(View):
    campaign_id: str
    activated_at: datetime
