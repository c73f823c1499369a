"""The message routes' request and response bodies: templates, the member's message log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from loyalty.api.fields import Request, View
from loyalty.messages.kinds import KINDS
from loyalty.messages.store import LogEntry
from loyalty.messages.templates import MAX_SOURCE

KIND_PATTERN = "^(" + "|".join(KINDS) + ")$"
LOCALE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$"  # BCP 47: a language, then region, script or variant subtags
Source = Annotated[str, Field(min_length=1, max_length=MAX_SOURCE)]


class TemplateRequest(Request):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, defer_build=True)  # whitespace is the author's

    subject: Annotated[str, Field(min_length=1, max_length=500, description="One line: placeholders like {{ member.name }}")]
    text: Annotated[Source, Field(description="The plain-text part")]
    html: Annotated[Source, Field(description="The HTML part (values are escaped)")]


class Preview(View):
    subject: str
    text: str
    html: str


class TemplateView(View):
    kind: str
    locale: str
    subject: str
    text: str
    html: str
    version: str = Field(description='"default" (the program\'s shipped template) or the stored version, 1, 2, ...')
    updated_at: datetime | None
    preview: Preview | None = Field(default=None, description="Rendered with sample values (on a write)")


class TemplatePage(View):
    items: list[TemplateView]


class MessageView(View):
    kind: str
    channel: Literal["email"]
    category: Literal["service", "marketing"]
    template_version: str
    locale: str
    status: Literal["sending", "sent", "failed", "not_sent"]
    reason: str | None = Field(description="not_sent: no_consent, weekly_cap or no_address; failed: the provider's code")
    at: datetime

    @classmethod
    def of(cls, entry: LogEntry) -> MessageView:
        return cls(kind=entry.kind, channel=entry.channel, category=entry.category, template_version=entry.template_version,
                   locale=entry.locale, status=entry.status, reason=entry.reason, at=entry.at)


class MessagePage(View):
    items: list[MessageView]
    next_cursor: str | None
