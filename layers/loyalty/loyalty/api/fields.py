"""What every feature's API models share: the request base, id and key patterns, the validators of e-mail, plain
text and UTC times, and the error bodies. Types are strict: "12" or 12.0 for an integer, 1 for a boolean are refused."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timezone
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, RootModel

MAX_AMOUNT_MINOR = 100_000_000  # one purchase of a million in major units is not a purchase, it is a typo
MAX_POINTS = 1_000_000_000
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
MEMBER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
REWARD_ID_PATTERN = r"^[a-z0-9-]{1,64}$"
REDEMPTION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Channel = Literal["app", "web", "store", "social", "partner"]


def _only_strings(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _plain_text(value: str) -> str:
    """Refuses control characters (NUL, escapes, line breaks) and lone surrogates, which no store or screen wants."""
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise ValueError("must not contain control characters")
    return value


# RFC 5321/5322 as mail systems accept in practice: a dot-atom local part (UTF-8 allowed, RFC 6531)
# and a host name of two or more labels; no quoted local parts, comments or IP literals.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u00a0-\U0010ffff-]+"
_LABEL = r"[^\W_](?:[^\W_]|-){0,61}(?<!-)"


@cache  # compiled on the first e-mail validated (~5 ms): the functions that take no e-mail never pay for it
def _email_pattern() -> re.Pattern[str]:
    return re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>{_LABEL}(?:\.{_LABEL})+)")


def _email(value: str) -> str:
    if not value.isprintable() or any(char.isspace() for char in value):
        raise ValueError("must not contain spaces or control characters")
    found = _email_pattern().fullmatch(value)
    if not found or len(found["local"]) > 64 or len(found["domain"]) > 253 or found["domain"].rsplit(".", 1)[1].isdigit():
        raise ValueError("must be an e-mail address such as ann@example.com")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone (use Z for UTC)")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before the first representable UTC moment
        raise ValueError("is outside the range of dates this API accepts") from None


Amount = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_MINOR, description="Minor units (1299 = 12.99).")]
Points = Annotated[int, Field(strict=True, gt=0, le=MAX_POINTS)]
IdempotencyId = Annotated[str, Field(pattern=IDEMPOTENCY_KEY_PATTERN)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]
Text = Annotated[str, AfterValidator(_plain_text)]
Email = Annotated[str, Field(max_length=254, description="An e-mail address; unique case-insensitively."),
                  AfterValidator(_email)]
DateString = Annotated[date, BeforeValidator(_only_strings)]
Timestamp = Annotated[datetime, BeforeValidator(_only_strings), AfterValidator(_utc)]


class View(BaseModel):
    """A response body. Its validator and serializer are built on first use (`defer_build`), not at import: a cold
    start builds only the models of the route it serves."""

    model_config = ConfigDict(defer_build=True)


class Request(BaseModel):
    """A request body: unknown fields are ignored, strings stripped; built on first use, as `View`."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, defer_build=True)


Reason = Annotated[Text, Field(min_length=1, max_length=500)]


class ErrorDetail(View):
    field: str
    message: str


class ErrorBody(View):
    code: str = Field(description="Stable, UPPER_SNAKE_CASE; see the error table in the README.")
    message: str
    errors: list[ErrorDetail] | None = Field(default=None, description="Validation errors: which field, and why.")
    details: dict[str, Any] | None = Field(
        default=None, description='What a refused business rule saw, e.g. {"balance": 40, "needed": 120}.'
    )


class GatewayError(View):
    """API Gateway's own refusal body (HTTP APIs cannot change it)."""

    message: str


class RefusalBody(RootModel[ErrorBody | GatewayError]):
    """A refusal from the gateway (`{"message"}`) or from the function (`{code, message}`)."""

    model_config = ConfigDict(defer_build=True)
