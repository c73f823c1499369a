"""Settings: each function reads the model of the variables it uses, once, at cold start.

Names are the environment variables' names in lower case. A variable without a default is
required: a deployed function missing one fails at cold start with `ConfigurationError`, naming
it, instead of silently taking a local path. What a runtime other than Lambda gives instead (the
local one's clock, job queue and event sink) it provides itself (core/platform.py); no setting here
means "local".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_PROGRAM_FILE = Path(__file__).parent / "data" / "program.json"


class ConfigurationError(Exception):
    """The function's environment lacks or garbles a setting it needs."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)  # built when a function reads it

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        values = {name: env[name.upper()] for name in cls.model_fields if env.get(name.upper())}
        try:
            return cls(**values)
        except ValidationError as error:
            problems = "; ".join(
                f"{str(problem['loc'][0]).upper() if problem['loc'] else 'settings'}: {problem['msg']}"
                for problem in error.errors()
            )
            raise ConfigurationError(f"{cls.__name__} cannot start: {problems}") from None


# The AWS SDK's retries, chosen on purpose (docs/reliability.md). botocore's "standard" mode (what pynamodb
# configures): throttles, transient 5xx and connection errors are retried with jittered exponential backoff
# (at most 1 s, then 2 s) and a retry quota that stops retrying when most calls fail; conditional failures and
# transaction cancellations are not (the use cases reread and decide again). "adaptive" would add a client-side
# rate limiter that learns over minutes: a Lambda instance does not live long enough for it to pay. The timeouts
# keep one DynamoDB call's worst case, 3 attempts x (0.5 s connect + 1 s read) + 3 s of backoff = 7.5 s, under
# the API functions' 10 s timeout; a DynamoDB request normally answers in milliseconds.
DYNAMODB_MAX_ATTEMPTS = 3
DYNAMODB_CONNECT_TIMEOUT_SECONDS = 0.5
DYNAMODB_READ_TIMEOUT_SECONDS = 1.0
AWS_CLIENT_RETRIES = {"mode": "standard", "total_max_attempts": DYNAMODB_MAX_ATTEMPTS}  # EventBridge, SQS: the same


def aws_client_config():
    """The botocore Config of the functions' EventBridge and SQS clients: the same policy as DynamoDB's."""
    from botocore.config import Config

    return Config(retries=AWS_CLIENT_RETRIES, connect_timeout=DYNAMODB_CONNECT_TIMEOUT_SECONDS,
                  read_timeout=DYNAMODB_READ_TIMEOUT_SECONDS)


class StoreSettings(Settings):
    """The tables a function reads and writes, and how the store spreads its hot keys."""

    # Attempts per DynamoDB call, the first included (1: no SDK retry, as the chaos test runs to let every fault through).
    dynamodb_max_attempts: int = Field(default=DYNAMODB_MAX_ATTEMPTS, ge=1, le=10)
    # Seconds one DynamoDB call may wait for its answer (more: a benchmark's recording proxy answers slowly, and a
    # read timeout makes botocore send the same request again, which the proxy would count twice).
    dynamodb_read_timeout_seconds: float = Field(default=DYNAMODB_READ_TIMEOUT_SECONDS, gt=0, le=30)

    members_table: str
    ledger_table: str
    stats_table: str
    catalog_table: str | None = None  # only the functions that serve rewards
    stats_shards: int = Field(default=8, ge=1, le=64)  # counter items per day: more spreads hot writes
    job_shards: int = Field(default=16, ge=1, le=256)  # partitions of the jobs' sparse indexes
    aws_region: str | None = None  # Lambda sets it; elsewhere botocore's own configuration applies
    aws_endpoint_url_dynamodb: str | None = None  # the local runtime's DynamoDB; unset in AWS


class ApiSettings(StoreSettings):
    """An API function (enroll, earn, redeem, report) and the job worker."""

    program_file: Path = DEFAULT_PROGRAM_FILE  # a published document, not a secret: a packaged default is fine


class CatalogSettings(ApiSettings):
    """A function that serves the rewards catalog (redeem)."""

    catalog_table: str
    catalog_cache_seconds: int = Field(default=60, ge=0, le=3600)


class EarnSettings(ApiSettings):
    """The earn function: the catalog table holds the campaigns it caches (one Query when stale)."""

    catalog_table: str
    campaign_cache_seconds: int = Field(default=60, ge=0, le=60)  # API.md: a campaign change reaches earn within 60 s


class EmailHashSettings(Settings):
    """The e-mail HMAC key: an SSM SecureString named by EMAIL_HASH_KEY_PARAMETER in AWS, or EMAIL_HASH_KEY
    locally and in tests. Exactly one of the two; there is no default key."""

    email_hash_key: str | None = Field(default=None, min_length=16)
    email_hash_key_parameter: str | None = Field(default=None, min_length=1)
    aws_region: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EmailHashSettings:
        if (self.email_hash_key is None) == (self.email_hash_key_parameter is None):
            raise ValueError("set exactly one of EMAIL_HASH_KEY_PARAMETER (an SSM SecureString) or EMAIL_HASH_KEY")
        return self


class DispatcherSettings(Settings):
    """A scheduled job's dispatcher: finds the due members and queues them."""

    members_table: str
    job_queue_url: str
    job_shards: int = Field(default=16, ge=1, le=256)
    job_batch_size: int = Field(default=50, ge=1, le=500)  # members per queue message
    program_file: Path = DEFAULT_PROGRAM_FILE  # its time zone: whose birthday the day is
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None


class PublisherSettings(Settings):
    """The stream publisher."""

    event_bus_name: str
    stats_table: str | None = None  # where it adds the campaigns' statistics of new earn entries (None: it does not)
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None


class RewardAdminSettings(Settings):
    """The catalog administration function: the catalog table only (the program's tiers: ProgramVersionsSettings)."""

    catalog_table: str
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None


class CampaignAdminSettings(Settings):
    """The campaigns function: campaign documents in the catalog table, their counters in the statistics table (the
    tiers a condition on member.tier may name: ProgramVersionsSettings)."""

    catalog_table: str
    stats_table: str
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None


class PublishedCampaignsSettings(Settings):
    """GET /v1/program's active campaigns (report): read from the catalog table, cached at most 60 s."""

    catalog_table: str
    campaign_cache_seconds: int = Field(default=60, ge=0, le=60)  # API.md: a campaign change shows within 60 s
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None


class ProgramVersionsSettings(Settings):
    """The program's versions (catalog table, pk "PROGRAM"), cached at most 60 s; PROGRAM_FILE seeds version 1."""

    catalog_table: str
    program_file: Path = DEFAULT_PROGRAM_FILE
    program_cache_seconds: int = Field(default=60, ge=0, le=60)  # API.md: a new version reaches every function within 60 s
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None
