"""Settings read once per cold start from the function's environment."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

DEFAULT_PROGRAM_FILE = Path(__file__).parent / "data" / "program.json"


class Settings(BaseModel):
    members_table: str = "MembersTable"
    ledger_table: str = "LedgerTable"
    catalog_table: str = "CatalogTable"
    stats_table: str = "StatsTable"
    stats_shards: int = Field(default=8, ge=1, le=64)  # counter items per day: more spreads hot writes
    job_shards: int = Field(default=16, ge=1, le=256)  # index partitions the scheduled jobs query
    job_queue_url: str = "local"  # "local": a job's batches run in the dispatcher's process
    job_batch_size: int = Field(default=50, ge=1, le=500)  # members per queue message
    event_bus_name: str = "local"  # "local": events are logged and appended to local_events_file
    local_events_file: Path = Path(".local/events.jsonl")
    aws_region: str = "us-east-1"
    program_file: Path = DEFAULT_PROGRAM_FILE
    email_hash_key: str = Field(default="local-email-hash-key", min_length=16)
    catalog_cache_seconds: int = 60


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    values = {
        "members_table": env.get("MEMBERS_TABLE"),
        "ledger_table": env.get("LEDGER_TABLE"),
        "catalog_table": env.get("CATALOG_TABLE"),
        "stats_table": env.get("STATS_TABLE"),
        "stats_shards": env.get("STATS_SHARDS"),
        "job_shards": env.get("JOB_SHARDS"),
        "job_queue_url": env.get("JOB_QUEUE_URL"),
        "job_batch_size": env.get("JOB_BATCH_SIZE"),
        "event_bus_name": env.get("EVENT_BUS_NAME"),
        "local_events_file": env.get("LOCAL_EVENTS_FILE"),
        "aws_region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        "program_file": env.get("PROGRAM_FILE"),
        "email_hash_key": env.get("EMAIL_HASH_KEY"),
        "catalog_cache_seconds": env.get("CATALOG_CACHE_SECONDS"),
    }
    return Settings(**{key: value for key, value in values.items() if value is not None})
