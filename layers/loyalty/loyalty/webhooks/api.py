"""The webhook admin routes' request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from loyalty.api.fields import Request, Text, View
from loyalty.webhooks.store import Delivery, Subscription

WEBHOOK_ID_PATTERN = r"^wh_[0-9a-f]{16}$"
DELIVERY_ID_PATTERN = r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}$"
EventType = Annotated[str, Field(pattern=r"^(\*|[A-Z][A-Za-z]{1,63})$")]


class WebhookRequest(Request):
    url: Annotated[str, Field(min_length=1, max_length=2048, description="https (locally also http://127.0.0.1:<port>); "
                                                                          "must resolve to public addresses only")]
    event_types: Annotated[list[EventType], Field(min_length=1, max_length=50,
                                                  description='Detail types of docs/events.md, or ["*"] for all')]
    description: Annotated[Text, Field(max_length=500)] = ""


class WebhookView(View):
    webhook_id: str
    url: str
    event_types: list[str]
    description: str
    status: Literal["active", "disabled"]
    created_at: datetime
    last_success_at: datetime | None
    failing_since: datetime | None
    disabled_at: datetime | None

    @classmethod
    def of(cls, s: Subscription) -> WebhookView:
        return cls(webhook_id=s.webhook_id, url=s.url, event_types=list(s.event_types), description=s.description,
                   status=s.status, created_at=s.created_at, last_success_at=s.last_success_at,
                   failing_since=s.failing_since, disabled_at=s.disabled_at)


class WebhookCreated(WebhookView):
    secret: str = Field(description="The signing secret: shown this once, never again")


class WebhookPage(View):
    items: list[WebhookView]
    next_cursor: str | None


class DeliveryView(View):
    delivery_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, d: Delivery) -> DeliveryView:
        return cls(delivery_id=d.delivery_id, event_id=d.event_id, event_type=d.event_type, status=d.status,
                   attempts=d.attempts, last_status=d.last_status, last_error=d.last_error,
                   next_attempt_at=d.next_attempt_at, created_at=d.created_at)


class DeliveryPage(View):
    items: list[DeliveryView]
    next_cursor: str | None
