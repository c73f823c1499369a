"""The message functions' settings, read once at cold start (names are the environment variables' in lower case)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from loyalty.settings import DEFAULT_PROGRAM_FILE, ProgramVersionsSettings, Settings


class MessageLogSettings(Settings):
    """The message log's tables (the export reads the log too)."""

    messages_table: str
    members_table: str
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None


class MessageSettings(MessageLogSettings):
    """What every message function reads: its tables and the unsubscribe key."""

    # The unsubscribe tokens' HMAC key: an SSM SecureString in AWS, given directly locally and in tests.
    unsubscribe_key: str | None = Field(default=None, min_length=16)
    unsubscribe_key_parameter: str | None = Field(default=None, min_length=1)
    program_file: Path = DEFAULT_PROGRAM_FILE  # the program's name, in every message

    @model_validator(mode="after")
    def _one_key(self) -> MessageSettings:
        if (self.unsubscribe_key is None) == (self.unsubscribe_key_parameter is None):
            raise ValueError("set exactly one of UNSUBSCRIBE_KEY_PARAMETER (an SSM SecureString) or UNSUBSCRIBE_KEY")
        return self


class SendingSettings(MessageSettings):
    """The sender's besides: who it sends as, through which configuration set, where unsubscribe links point, and the
    program's versions."""

    message_sender: str = Field(min_length=3)  # the From address: of the SES identity's domain (or the identity itself)
    public_api_url: str = Field(pattern=r"^https?://")  # the unsubscribe link's base
    ses_configuration_set: str | None = None
    ses_identity_arn: str | None = None  # FromEmailAddressIdentityArn: the one identity the function may send as
    # The program's versions (its name, locale and messages.marketing_per_week), as every function reads them.
    catalog_table: str
    program_cache_seconds: int = Field(default=60, ge=0, le=60)

    def program_versions(self) -> ProgramVersionsSettings:
        return ProgramVersionsSettings(catalog_table=self.catalog_table, program_file=self.program_file,
                                       program_cache_seconds=self.program_cache_seconds, aws_region=self.aws_region,
                                       aws_endpoint_url_dynamodb=self.aws_endpoint_url_dynamodb)


class OfferAnnouncementSettings(Settings):
    """The nightly snapshot's announcement of personalised offers: the bus its OfferAvailable events go to."""

    event_bus_name: str
    offer_publish_workers: int = Field(default=8, ge=1, le=32)  # PutEvents calls in flight at once
    aws_region: str | None = None
