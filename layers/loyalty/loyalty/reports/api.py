"""The reports API models: the program report, as JSON and as CSV."""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field

from loyalty.api.fields import View
from loyalty.program import Program


class DayReport(View):
    date: date
    enrollments: int
    enrollments_by_channel: dict[str, int]
    active_members: int = Field(description="Distinct members with a purchase that day.")
    repeat_purchasers: int = Field(description="Members with two or more purchases that day.")
    purchases: int
    revenue_minor: int
    refunds_minor: int
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_returned: int = Field(description="Points taken back by returns.")
    points_debited: int = Field(description="Points taken off by admin adjustments (debits).")
    points_forfeited: int = Field(default=0, description="The balances of members erased that day.")


class ProgramReportView(View):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    time_zone: str
    enrollments: int
    enrollments_by_channel: dict[str, int]
    active_members: int = Field(description="Distinct members with any purchase in the range.")
    repeat_purchasers: int = Field(description="Distinct members with two or more purchases in the range.")
    purchases: int
    revenue_minor: int
    refunds_minor: int
    points_issued: int = Field(description="Every point credited: purchases, bonuses, positive adjustments.")
    points_redeemed: int
    points_expired: int
    points_returned: int
    points_debited: int = Field(description="Points taken off by admin adjustments; credits count in points_issued.")
    points_forfeited: int = Field(default=0, description="The balances of erased members, forfeited at erasure.")
    redemption_rate: float | None = Field(description="points_redeemed / points_issued; null when none were issued.")
    repeat_purchase_rate: float | None = Field(description="repeat_purchasers / active_members; null without active members.")
    outstanding_points: int = Field(description="Points members can spend at the end of `to` (pending points are not in it).")
    outstanding_liability_minor: int = Field(description="outstanding_points × point_value_minor.")
    points_pending: int = Field(default=0, description="Purchase points still pending at the end of `to`.")
    tier_distribution: dict[str, int] = Field(description="Members per tier, now.")
    daily: list[DayReport]

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, report, program: Program) -> ProgramReportView:
        from loyalty.domain.stats import CHANNELS, active_members, repeat_purchasers

        def channels(figures) -> dict[str, int]:
            return {channel: figures(f"enrollments_{channel}") for channel in CHANNELS}

        def rate(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        daily = [
            DayReport(
                date=day.day, enrollments=day.get("enrollments"), enrollments_by_channel=channels(day.get),
                active_members=active_members([day], day.day), repeat_purchasers=repeat_purchasers([day], day.day),
                purchases=day.get("purchases"), revenue_minor=day.get("revenue_minor"), refunds_minor=day.get("refunds_minor"),
                points_issued=day.get("points_issued"), points_redeemed=day.get("points_redeemed"),
                points_expired=day.get("points_expired"), points_returned=day.get("points_returned"),
                points_debited=day.get("points_debited"), points_forfeited=day.get("points_forfeited"),
            )
            for day in report.days
        ]
        issued, redeemed = report.total("points_issued"), report.total("points_redeemed")
        return cls(
            from_=report.start, to=report.end, time_zone=program.time_zone,
            enrollments=report.total("enrollments"), enrollments_by_channel=channels(report.total),
            active_members=report.active, repeat_purchasers=report.repeat, purchases=report.total("purchases"),
            revenue_minor=report.total("revenue_minor"), refunds_minor=report.total("refunds_minor"),
            points_issued=issued, points_redeemed=redeemed, points_expired=report.total("points_expired"),
            points_returned=report.total("points_returned"), points_debited=report.total("points_debited"),
            points_forfeited=report.total("points_forfeited"),
            redemption_rate=rate(redeemed, issued),
            repeat_purchase_rate=rate(report.repeat, report.active), outstanding_points=report.outstanding_points,
            outstanding_liability_minor=report.outstanding_points * program.point_value_minor,
            points_pending=report.points_pending, tier_distribution=report.tiers, daily=daily,
        )

    def to_csv(self) -> str:
        """One row per day, then a totals row (distinct counts over the whole range)."""
        channels = list(self.enrollments_by_channel)
        header = ["date", "enrollments", *[f"enrollments_{c}" for c in channels], "active_members", "repeat_purchasers",
                  "purchases", "revenue_minor", "refunds_minor", "points_issued", "points_redeemed", "points_expired",
                  "points_returned", "points_debited", "points_forfeited"]

        def row(label: str, figures) -> list[str]:
            values = [figures.enrollments, *[figures.enrollments_by_channel[c] for c in channels], figures.active_members,
                      figures.repeat_purchasers, figures.purchases, figures.revenue_minor, figures.refunds_minor,
                      figures.points_issued, figures.points_redeemed, figures.points_expired, figures.points_returned,
                      figures.points_debited, figures.points_forfeited]
            return [label, *map(str, values)]

        lines = [header] + [row(day.date.isoformat(), day) for day in self.daily] + [row("total", self)]
        return "\r\n".join(",".join(line) for line in lines) + "\r\n"
