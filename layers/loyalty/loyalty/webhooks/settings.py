"""The webhook functions' settings, read once at cold start (names are the environment variables' in lower case)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loyalty.settings import Settings


class WebhookSettings(Settings):
    webhooks_table: str
    webhook_queue_url: str  # the delivery queue (the EventBridge rule's target); the admin routes queue tests and retries
    webhook_secrets_key_id: str  # the KMS key that seals signing secrets (locally: a key of the runtime's KMS)
    webhook_url_policy: Literal["public", "public-or-loopback-http"] = "public"
    event_bus_name: str | None = None  # where WebhookDisabled goes (the deliverer only)
    max_subscriptions: int = Field(default=100, ge=1, le=1000)
    aws_region: str | None = None
    aws_endpoint_url_dynamodb: str | None = None
