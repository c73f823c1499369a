"""The insights function's settings: where queries are kept, the engine and where it reads, the campaigns."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from loyalty.settings import DEFAULT_PROGRAM_FILE, Settings


class InsightsSettings(Settings):
    insight_queries_table: str
    catalog_table: str  # the campaigns (their dates and holdout, for campaign_lift)
    analytics_engine: Literal["athena", "duckdb"] = "athena"
    athena_workgroup: str | None = None
    athena_database: str | None = None
    analytics_dir: Path | None = None  # the DuckDB engine's store (the local runtime's)
    program_file: Path = DEFAULT_PROGRAM_FILE  # the point value
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None

    @model_validator(mode="after")
    def _engine_configured(self) -> InsightsSettings:
        if self.analytics_engine == "athena" and not (self.athena_workgroup and self.athena_database):
            raise ValueError("the athena engine needs ATHENA_WORKGROUP and ATHENA_DATABASE")
        if self.analytics_engine == "duckdb" and self.analytics_dir is None:
            raise ValueError("the duckdb engine needs ANALYTICS_DIR")
        return self


def engine_from_settings(settings: InsightsSettings):
    """The configured engine; each is imported only when it is the one configured (no duckdb in AWS)."""
    if settings.analytics_engine == "duckdb":
        from loyalty.insights.duckdb_engine import DuckDbEngine

        return DuckDbEngine(settings.analytics_dir)
    from loyalty.insights.athena import AthenaEngine

    return AthenaEngine.from_settings(settings)


class SnapshotSettings(Settings):
    """The member-facts snapshot job's: the members it reads, the catalog (segments in, published documents out),
    where the rows go (Firehose in AWS, a local store's folder) and the engine the RFM boundaries run on."""

    members_table: str
    catalog_table: str
    analytics_engine: Literal["athena", "duckdb"] = "athena"
    member_facts_stream: str | None = None  # the Firehose delivery stream of the snapshot's rows (AWS)
    athena_workgroup: str | None = None
    athena_database: str | None = None
    analytics_dir: Path | None = None
    snapshot_scan_segments: int = 1  # the members table's read in this many segments, one after another
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None

    @model_validator(mode="after")
    def _engine_configured(self) -> SnapshotSettings:
        if self.analytics_engine == "athena" and not (self.athena_workgroup and self.athena_database
                                                      and self.member_facts_stream):
            raise ValueError("the athena engine needs ATHENA_WORKGROUP, ATHENA_DATABASE and MEMBER_FACTS_STREAM")
        if self.analytics_engine == "duckdb" and self.analytics_dir is None:
            raise ValueError("the duckdb engine needs ANALYTICS_DIR")
        return self
