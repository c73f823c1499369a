"""The facts' API model: `GET /v1/members/{member_id}/facts`."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from loyalty.api.fields import View
from loyalty.facts.use_cases import MemberFacts


class RfmView(View):
    r: int = Field(ge=1, le=5, description="Recency quintile: 5 bought most recently.")
    f: int = Field(ge=1, le=5, description="Frequency quintile: purchases over the last 12 months.")
    m: int = Field(ge=1, le=5, description="Monetary quintile: spend over the last 12 months.")


class FactsView(View):
    """The facts segments and campaign conditions are evaluated on (`member.<fact>`), pseudonymous: no e-mail, name,
    phone or exact birthday."""

    member_id: str
    as_of: datetime
    tier: str
    channel: str = Field(description="The enrolment channel.")
    enrolled_days: int
    marketing_opt_in: bool
    days_from_birthday: int | None = Field(description="Days to the nearest birthday, past or coming; 0 on the day.")
    purchase_count: int = Field(description="All time.")
    spend_minor: int = Field(description="All time, after returns.")
    avg_basket_minor: int | None = Field(description="spend_minor / purchase_count, rounded down.")
    last_purchase_at: datetime | None
    days_since_last_purchase: int | None
    purchases_90d: int = Field(description="The 90 local days ending today; a purchase refunded in full stops counting.")
    spend_90d_minor: int = Field(description="The 90 local days ending today, after returns.")
    categories_90d: list[str] = Field(description="Categories bought in those 90 days (at most 50), by name.")
    points_balance: int
    points_expiring_30d: int
    redemptions_count: int
    days_since_last_redemption: int | None
    rfm: RfmView | None = Field(description="Quintiles against the whole membership; null before a first purchase "
                                "and until the daily job has published the boundaries.")
    attributes: dict[str, str | int | bool] = Field(description="The business's own, set by pos or admin.")
    segments: list[str] = Field(description="The segments the member is in now.")
    held_out: dict[str, bool] | None = Field(
        default=None, description="Admin only: per active campaign with a holdout, whether this member is held out.")

    @classmethod
    def of(cls, found: MemberFacts) -> FactsView:
        return cls(member_id=found.member_id, as_of=found.as_of, segments=found.segments, held_out=found.held_out,
                   **found.facts)
