"""The one resolver every API function uses: validation on, errors mapped to `{code, message}` in one place."""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import re
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.message import Message
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from loyalty.api.fields import MEMBER_ID_PATTERN, ErrorBody, RefusalBody
from loyalty.domain import errors
from loyalty.domain.access import MEMBER_SCOPE, Caller

logger = Logger()
metrics = Metrics()
# Reads and refusals publish no business metric; that is expected, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Codes the resolver itself produces (the domain's are in loyalty.domain.errors).
MALFORMED_JSON = "MALFORMED_JSON"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
INVALID_TOKEN = "INVALID_TOKEN"
VALIDATION_ERROR = "VALIDATION_ERROR"
INTERNAL_ERROR = "INTERNAL_ERROR"

MAX_JSON_DEPTH = 32
# No field takes a number near this long; longer ones are refused before Python parses them
# (parsing a long integer costs quadratic time, and past 4,300 digits it raises).
MAX_NUMBER_DIGITS = 32
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Strings are skipped whole (brackets in them do not nest); an unterminated one runs to the end, so that
# every character is read once whatever the body (a body of escaped quotes made the naive pattern quadratic).
_JSON_NESTING = re.compile(r'"(?:[^"\\]+|\\.)*"?|[\[\]{}]', re.DOTALL)

MemberId = Annotated[str, Path(pattern=MEMBER_ID_PATTERN, description='A member id, or "me" with a member token.')]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Refused(Exception):
    """A request refused before any route runs: its status, code and message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(
    status: int, code: str, message: str, problems: list[dict[str, str]] | None = None,
    details: Mapping[str, Any] | None = None, headers: dict[str, str] | None = None,
) -> Response:
    body = ErrorBody(code=code, message=message, errors=problems or None, details=dict(details) if details else None)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, headers=headers,
                    body=body.model_dump(mode="json", exclude_none=True))


def json_response(status: int, model: BaseModel) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model.model_dump(mode="json"))


def _field_name(location: tuple) -> str:
    parts = [str(part) for part in location if part not in ("body",)]
    return ".".join(parts) or "body"


# ---------------------------------------------------------------- checks before any route runs


def _caller(event: Mapping[str, Any]) -> Caller:
    """The caller from API Gateway's JWT authorizer context; a member token must name its person."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    jwt = authorizer.get("jwt") or {}
    claims = jwt.get("claims") or {}
    scopes = set(str(claims.get("scope", "")).split())
    scopes.update(jwt.get("scopes") or [])
    sub = str(claims["sub"]) if claims.get("sub") else None
    if MEMBER_SCOPE in scopes and not (sub and sub.strip()):
        # Without a subject the token names no one: ownership checks would compare absent values.
        raise Refused(401, INVALID_TOKEN, "a member token must carry a non-empty sub claim",
                      {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    # API Gateway passes every claim as a string: email_verified arrives as "true" (a boolean in a test's event too).
    verified = str(claims.get("email_verified", "")).lower() == "true" and bool(claims.get("email"))
    return Caller(sub=sub, scopes=frozenset(scopes), client_id=claims.get("client_id"),
                  verified_email=str(claims["email"]) if verified else None)


def _json_text(event: Mapping[str, Any]) -> str | None:
    """The body as UTF-8 JSON text, or Refused with the 4xx it deserves."""
    body = event.get("body")
    if not body:
        return None
    header = Message()  # the standard library's media type parser: case, parameters and quoting
    header["content-type"] = (event.get("headers") or {}).get("content-type", "")
    if header.get_content_type() != "application/json" or header.get_content_charset("utf-8") not in ("utf-8", "utf8"):
        raise Refused(415, UNSUPPORTED_MEDIA_TYPE, "send the body as application/json (UTF-8)")
    text = body
    if event.get("isBase64Encoded"):  # how API Gateway passes a body that is not valid text
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except binascii.Error:
            raise Refused(400, MALFORMED_JSON, "the body is not valid base64") from None
        except UnicodeDecodeError:
            raise Refused(400, MALFORMED_JSON, "the body is not UTF-8") from None
    depth = 0
    for token in _JSON_NESTING.finditer(text):
        bracket = token.group()
        depth += 1 if bracket in "[{" else -1 if bracket in "]}" else 0
        if depth > MAX_JSON_DEPTH:
            raise Refused(400, MALFORMED_JSON, f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant)
    except ValueError as error:  # JSONDecodeError included
        raise Refused(400, MALFORMED_JSON, f"the body is not valid JSON: {error}") from None
    return text


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 8:  # digits plus sign, point and exponent
        raise ValueError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return float(text)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _checked(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event once the caller and the body pass; a base64 JSON body becomes text, as powertools expects."""
    _caller(event)
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method", "")).upper()
    if method not in BODY_METHODS:
        return event  # reads take no body: whatever came with one is ignored
    text = _json_text(event)
    if text is None:
        return event
    headers = {**event.get("headers", {}), "content-type": content_types.APPLICATION_JSON}
    return {**event, "headers": headers, "body": text, "isBase64Encoded": False}


# ---------------------------------------------------------------- the resolver


class LoyaltyResolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver, plus what every route shares.

    Before routing (powertools validates the body before any middleware runs, and would answer
    5xx or a misleading 422 for these): the caller's token must name its member, and a body must
    be UTF-8 JSON, shallow and with sane numbers. In the OpenAPI document: the statuses every
    route can answer, added to those each route documents itself.
    """

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        try:
            event = _checked(event)
        except Refused as refusal:
            logger.info("request refused", extra={"status": refusal.status, "code": refusal.code})
            return _proxy_result(error_response(refusal.status, refusal.code, refusal.message, headers=refusal.headers))
        return super().resolve(event, context)

    def route(self, *args: Any, **kwargs: Any) -> Callable:
        arguments = inspect.signature(super().route).bind(*args, **kwargs).arguments
        own = arguments.pop("responses", None) or {}

        def register(func: Callable) -> Callable:
            shared = common_responses(arguments["method"], has_parameters=bool(inspect.signature(func).parameters))
            responses = dict(sorted({**shared, **own}.items()))
            return super(LoyaltyResolver, self).route(**arguments, responses=responses)(func)

        return register


def _proxy_result(response: Response) -> dict[str, Any]:
    """An HTTP API (payload 2.0) Lambda result for a response built outside the router."""
    return {"statusCode": response.status_code, "headers": response.headers, "cookies": [],
            "body": json.dumps(response.body, separators=(",", ":")), "isBase64Encoded": False}


def common_responses(method: str | list[str] | tuple[str, ...], has_parameters: bool) -> dict[int, dict[str, Any]]:
    """What any route may answer besides its own outcomes (those a route documents itself win)."""
    methods = {method.upper()} if isinstance(method, str) else {m.upper() for m in method}
    takes_body = bool(methods & BODY_METHODS)
    responses: dict[int, dict[str, Any]] = {}
    if takes_body:
        responses[400] = documented("MALFORMED_JSON: the body is not UTF-8 JSON, nests deeper than "
                                    f"{MAX_JSON_DEPTH} levels or holds a number of more than {MAX_NUMBER_DIGITS} digits")
    responses[401] = documented("No, expired or invalid token (API Gateway's body, `{\"message\": \"Unauthorized\"}`), "
                                "or INVALID_TOKEN: a member token without a subject", RefusalBody)
    responses[403] = documented("The token has none of the route's scopes (API Gateway's body, "
                                "`{\"message\": \"Forbidden\"}`), or FORBIDDEN", RefusalBody)
    if takes_body:
        responses[415] = documented("UNSUPPORTED_MEDIA_TYPE: the body is not application/json")
    if has_parameters or takes_body:
        responses[422] = documented("VALIDATION_ERROR: a parameter or the body breaks the schema")
    responses[500] = documented("INTERNAL_ERROR: a bug; retrying the same request is safe. STORE_REJECTED: DynamoDB "
                                "refused the request as it is (an operator's alarm); nothing was written, do not retry")
    responses[503] = documented("TRY_AGAIN (with Retry-After): a dependency is busy and nothing was written, or the "
                                "function timed out "
                                "(API Gateway's body); retry", RefusalBody)
    return responses


def make_resolver() -> LoyaltyResolver:
    app = LoyaltyResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response:
        problems = error.errors()
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return error_response(400, MALFORMED_JSON, "the body is not valid JSON")
        details = [{"field": _field_name(tuple(p.get("loc", ()))), "message": p.get("msg", "invalid")} for p in problems]
        if any(problem.get("loc") == ("body",) and problem.get("type") == "model_attributes_type" for problem in problems):
            return error_response(400, MALFORMED_JSON, "the body must be a JSON object", details)
        return error_response(422, VALIDATION_ERROR, "the request is not valid", details)

    @app.exception_handler(errors.DomainError)
    def _domain_error(error: errors.DomainError) -> Response:
        if isinstance(error, errors.StoreRejected):  # a defect no retry fixes: the StoreRejected alarm counts it
            logger.error("request refused by DynamoDB", extra={"code": error.code, "operation": error.operation,
                                                                 "cause": error.cause, "reason": error.reason})
            metrics.add_metric(name="StoreRejected", unit="Count", value=1)
        elif error.status >= 500:
            logger.warning("request not served", extra={"code": error.code, "reason": error.message,
                                                        "cause": getattr(error, "cause", None)})
        # A refused rule may say what it saw (INSUFFICIENT_POINTS: balance and needed); a failure's cause stays in the log.
        details = dict(getattr(error, "details", None) or {}) if error.status < 500 else {}
        problems = details.pop("errors", None)  # a domain validation error lists its fields as the schema's would
        return error_response(error.status, error.code, error.message, problems, details=details,
                              headers=dict(error.headers) or None)

    @app.exception_handler(Refused)
    def _refused(refusal: Refused) -> Response:
        return error_response(refusal.status, refusal.code, refusal.message, headers=refusal.headers)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, INTERNAL_ERROR, "an unexpected error occurred; retrying the same request is safe")

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(404, "NOT_FOUND", "no such route")

    return app


def caller_of(app: APIGatewayHttpResolver) -> Caller:
    """The caller as API Gateway's JWT authorizer saw it. Ids in bodies are never trusted for authorization."""
    return _caller(app.current_event.raw_event)


def documented(description: str, model: Any = None) -> dict[str, Any]:
    """An OpenAPI response entry: a body of `model`, or the error body when none is given."""
    return {"description": description, "content": {"application/json": {"model": model or ErrorBody}}}
