"""Member messages (docs/messages.md): GET /v1/messages/templates, GET and PUT /v1/messages/templates/{kind}/{locale}
(admin), GET /v1/members/{member_id}/messages (owner member, admin), POST /v1/unsubscribe (no token: a signed link).
Nothing is sent here: the send_messages function sends, driven by events."""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths

from loyalty.api.fields import View
from loyalty.api.metrics import instance_metrics
from loyalty.api.resolver import MemberId, caller_of, documented, json_response, logger, make_resolver
from loyalty.api.tracing import traced
from loyalty.core.composition import cold_start
from loyalty.core.directory import Directory
from loyalty.core.platform import platform
from loyalty.messages.api import (
    KIND_PATTERN, LOCALE_PATTERN, MessagePage, MessageView, TemplatePage, TemplateRequest, TemplateView,
)
from loyalty.domain import errors
from loyalty.members.store import MemberStore
from loyalty.messages.compose import store_from_settings, tokens_from_settings
from loyalty.messages.settings import MessageSettings
from loyalty.messages.templates import demo_templates
from loyalty.messages.use_cases import MessageLog, Templates, Unsubscribe
from loyalty.programs.store import cached_programs
from loyalty.settings import ProgramVersionsSettings, StoreSettings
from loyalty.store.ledger import Store

app = make_resolver()
metrics = instance_metrics()


@dataclass(frozen=True)
class Parts:
    templates: Templates
    log: MessageLog
    unsubscribe: Unsubscribe


def compose() -> Parts:
    settings = MessageSettings.from_environment()
    messages, clock = store_from_settings(settings), platform().clock()
    store = Store.from_settings(StoreSettings.from_environment())
    _, programs = cached_programs(ProgramVersionsSettings.from_environment(), clock)  # unsubscribe's job schedule
    return Parts(Templates(messages, clock, demo_templates()), MessageLog(messages, Directory(store)),
                 Unsubscribe(tokens_from_settings(settings), MemberStore(store), clock, programs))


parts = cold_start(compose)

Kind = Annotated[str, Path(pattern=KIND_PATTERN, description="welcome, points_expiring, tier_changed, reward_redeemed, "
                                                              "birthday or offer_available")]
Locale = Annotated[str, Path(pattern=LOCALE_PATTERN, description="A BCP 47 language tag: en, de, pt-BR")]


@app.get(
    "/v1/messages/templates", tags=["messages"], summary="Every message template",
    description="Per kind and locale: the stored template, or the program's default (`version: \"default\"`).",
    responses={200: documented("The templates", TemplatePage)},
)
def list_templates() -> Response[TemplatePage]:
    found = parts().templates.all(caller_of(app))
    return json_response(200, TemplatePage(items=[TemplateView(**view) for view in found]))


@app.get(
    "/v1/messages/templates/<kind>/<locale>", tags=["messages"], summary="One message template",
    responses={200: documented("The template", TemplateView), 404: documented("TEMPLATE_NOT_FOUND")},
)
def get_template(kind: Kind, locale: Locale) -> Response[TemplateView]:
    return json_response(200, TemplateView(**parts().templates.get(caller_of(app), kind, locale)))


@app.put(
    "/v1/messages/templates/<kind>/<locale>", tags=["messages"], summary="Set a message template",
    description="Checked before it is stored as the next version: a placeholder the kind does not provide, a loop, a "
                "macro, an assignment or reading a name that starts with `_` is `422 INVALID_TEMPLATE` with the field "
                "and the reason. The answer carries a preview rendered with sample values.",
    responses={200: documented("Stored, with a preview", TemplateView),
               422: documented("INVALID_TEMPLATE (errors: field and reason), or VALIDATION_ERROR")},
)
def put_template(kind: Kind, locale: Locale, body: TemplateRequest) -> Response[TemplateView]:
    stored = parts().templates.put(caller_of(app), kind, locale, body.model_dump())
    return json_response(200, TemplateView(**stored))


@app.get(
    "/v1/members/<member_id>/messages", tags=["messages"], summary="The messages sent to a member, newest first",
    description="Kind, channel, template version, status and time; never the address or the body.",
    responses={200: documented("A page of the log", MessagePage), 400: documented("INVALID_CURSOR"),
               404: documented("MEMBER_NOT_FOUND")},
)
def member_messages(
    member_id: MemberId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
) -> Response[MessagePage]:
    found, next_cursor = parts().log.page(caller_of(app), member_id, limit, cursor)
    return json_response(200, MessagePage(items=[MessageView.of(entry) for entry in found], next_cursor=next_cursor))


class UnsubscribeDone(View):
    unsubscribed: bool = True


ONE_CLICK = "List-Unsubscribe=One-Click"


def _one_click(event: dict) -> dict:
    """A mail client's RFC 8058 POST (the form body `List-Unsubscribe=One-Click`, the token in the query) as the
    resolver takes requests: without that body. Any other form body stays, and is refused as not JSON (415)."""
    if event.get("routeKey") != "POST /v1/unsubscribe":
        return event
    headers = event.get("headers") or {}
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return event
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return event
    if parse_qs(body, keep_blank_values=True) != {"List-Unsubscribe": ["One-Click"]}:
        return event
    return {**event, "headers": {k: v for k, v in headers.items() if k != "content-type"}, "body": None,
            "isBase64Encoded": False}


def _token_of_body() -> str | None:
    """The token of a JSON body {"token": "..."} (the resolver has checked it is JSON); None without a body."""
    body = app.current_event.decoded_body
    found = json.loads(body) if body else None
    token = found.get("token") if isinstance(found, dict) else None
    if found is not None and not isinstance(token, str):
        raise errors.DomainError("a JSON body must be {\"token\": \"...\"}")
    return token


@app.post(
    "/v1/unsubscribe", tags=["messages"], summary="One-click unsubscribe from marketing messages (RFC 8058)",
    description="No bearer token: the signed, member-specific token of a marketing e-mail's `List-Unsubscribe` link, in "
                "the query (with the form body `List-Unsubscribe=One-Click`, `application/x-www-form-urlencoded`, as mail "
                "clients send it) or in a JSON body `{\"token\": \"...\"}`. Sets `marketing_opt_in: false` (a consent "
                "entry by `unsubscribe`); `200` again when repeated.",
    responses={200: documented("Unsubscribed (or already)", UnsubscribeDone),
               400: documented("INVALID_UNSUBSCRIBE_TOKEN (forged, altered, or for no member), or BAD_REQUEST")},
)
def unsubscribe(
    token: Annotated[str | None, Query(max_length=200, description="The link's token")] = None,
) -> Response[UnsubscribeDone]:
    given = _token_of_body() or token
    parts().unsubscribe(given or "")
    return json_response(200, UnsubscribeDone())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(_one_click(event), context)
