"""The insights' request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from loyalty.api.fields import View
from loyalty.insights.definitions import (
    CAMPAIGN_ID_PATTERN, ClvParams, LiabilityParams, LiftParams, RedemptionParams, RepeatParams, RetentionParams,
)
from loyalty.insights.store import Query

__all__ = ["CAMPAIGN_ID_PATTERN"]

QUERY_ID_PATTERN = r"^q-[0-9a-f]{32}$"
QueryStatus = Literal["running", "succeeded", "failed"]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class RetentionQuery(_Query):
    insight: Literal["retention_cohorts"]
    params: RetentionParams


class RepeatQuery(_Query):
    insight: Literal["repeat_purchase"]
    params: RepeatParams


class RedemptionQuery(_Query):
    insight: Literal["redemption"]
    params: RedemptionParams


class ClvQuery(_Query):
    insight: Literal["clv"]
    params: ClvParams


class LiabilityQuery(_Query):
    insight: Literal["liability"]
    params: LiabilityParams


class LiftQuery(_Query):
    insight: Literal["campaign_lift"]
    params: LiftParams


class InsightQuery(RootModel[Annotated[
    RetentionQuery | RepeatQuery | RedemptionQuery | ClvQuery | LiabilityQuery | LiftQuery,
    Field(discriminator="insight"),
]]):
    """`{"insight": NAME, "params": {...}}`; an unknown insight or a parameter it does not take: 422."""

    model_config = ConfigDict(defer_build=True)


class QueryAccepted(View):
    query_id: str
    status: QueryStatus = Field(description="`succeeded` already when the engine answered at once (DuckDB).")


class QueryView(View):
    query_id: str
    insight: str
    params: dict[str, Any]
    status: QueryStatus
    result: dict[str, Any] | None = Field(description="The insight's answer, once succeeded.")
    error: str | None = Field(description="Why it failed (the engine's reason), once failed.")
    scanned_bytes: int | None = Field(description="What the engine read (DuckDB: the store's Parquet files).")
    engine: Literal["athena", "duckdb"]
    created_at: datetime


class BacktestDay(View):
    day: str
    purchases: int
    points: int


class BacktestView(View):
    query_id: str
    status: QueryStatus
    campaign_id: str
    from_: str | None = Field(alias="from", description="The range (the program's days, both included).")
    to: str | None
    purchases_matched: int | None = Field(description="Purchases it would have applied to (null while running).")
    members_matched: int | None
    points: int | None = Field(description="What it would have awarded, after its limits.")
    cost_minor: int | None = Field(description="Those points' value in money.")
    by_day: list[BacktestDay] | None
    error: str | None = None

    @classmethod
    def of(cls, query: Query, campaign_id: str) -> BacktestView:
        result = query.result or {}
        return cls.model_validate({
            "query_id": query.query_id, "status": query.status, "campaign_id": campaign_id,
            "from": query.params.get("from"), "to": query.params.get("to"), "error": query.error,
            **{name: result.get(name) for name in ("purchases_matched", "members_matched", "points", "cost_minor",
                                                   "by_day")}})


class SegmentSizeView(View):
    segment_id: str
    members: int = Field(description="Members in the segment on the newest complete member-facts snapshot.")
    sample: list[str] = Field(description="Up to 20 of them (member ids, the first by id).")
    as_of: datetime = Field(description="When that snapshot was taken.")
