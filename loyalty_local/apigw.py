"""What API Gateway's HTTP API does in front of the functions: JWT authorizer, routing, payload v2.0.

Shapes follow AWS's documentation and events captured from real HTTP APIs: claims are all strings
(arrays as "[a b]"), `jwt.scopes` is the token's scopes on a route with authorization scopes and
null otherwise, duplicate headers and query parameters are joined with commas, cookies move from
the `cookie` header to `cookies`, and a body that is not text arrives base64-encoded.
"""

from __future__ import annotations

import base64
import json
import re
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from loyalty_local.template import FunctionSpec, Route

# The contract's default local secret is short; it only ever signs tokens for this machine.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

DEFAULT_SECRET = "loyalty-local-secret"
TOKEN_LIFETIME_SECONDS = 12 * 3600
ROLE_SCOPES = {"member": "loyalty/member", "pos": "loyalty/pos", "admin": "loyalty/admin"}
ROLE_SUBJECTS = {"member": "local-member-1", "pos": "local-store-terminal", "admin": "local-back-office"}
# Request bodies HTTP APIs pass as text; anything else reaches the function base64-encoded.
TEXT_MEDIA_TYPES = {"application/json", "application/xml", "application/javascript", "application/graphql"}


DEFAULT_ISSUER = "loyalty-local"
DEFAULT_AUDIENCE = "loyalty-local"


def make_token(role: str, secret: str, sub: str | None = None, issuer: str = DEFAULT_ISSUER,
               audience: str = DEFAULT_AUDIENCE, lifetime_seconds: int = TOKEN_LIFETIME_SECONDS,
               email: str | None = None) -> str:
    """An access token shaped like a Cognito one: the role's scope, a subject, the app client as `client_id`;
    with `email`, the verified e-mail claims the pre-token-generation trigger adds (a member enrolls only that)."""
    now = int(time.time())
    claims = {
        "sub": sub or ROLE_SUBJECTS[role], "scope": ROLE_SCOPES[role], "client_id": audience,
        "iss": issuer, "token_use": "access", "iat": now, "exp": now + lifetime_seconds,
        **({"email": email, "email_verified": "true"} if email else {}),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


# ---------------------------------------------------------------- the JWT authorizer


class Unauthorized(Exception):
    """401: no token, or one that does not verify."""

    def challenge(self) -> str:
        """The `www-authenticate` header API Gateway sends with it."""
        if not self.args:  # no token at all: RFC 6750 gives no error code
            return "Bearer"
        return f'Bearer scope="" error="invalid_token" error_description="{_quoted(self.args[0])}"'


class Forbidden(Exception):
    """403: a valid token without any of the route's scopes."""

    def __init__(self, route_scopes: tuple[str, ...]) -> None:
        super().__init__(f"expected scopes: [{' '.join(route_scopes)}]")
        self.route_scopes = route_scopes

    def challenge(self) -> str:
        return (f'Bearer scope="{" ".join(self.route_scopes)}" error="insufficient_scope" '
                f'error_description="{_quoted(self.args[0])}"')


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Authorization:
    """What the authorizer puts in `requestContext.authorizer.jwt`."""

    claims: dict[str, str]
    scopes: list[str] | None


def authorize(headers: dict[str, str], secret: str, route: Route, issuer: str = DEFAULT_ISSUER,
              audience: str = DEFAULT_AUDIENCE) -> Authorization:
    """Verify the bearer token (signature, exp, nbf, iat, iss, aud or client_id) and the route's scopes, as API Gateway does."""
    value = headers.get("authorization", "").strip()
    token = value[7:].strip() if value[:7].lower() == "bearer " else value  # API Gateway accepts a bare token too
    if not token:
        raise Unauthorized()
    try:
        payload = jwt.decode(token, secret, algorithms=["HS256"], issuer=issuer,
                             options={"require": ["exp", "iss"], "verify_aud": False})
    except jwt.PyJWTError as error:
        raise Unauthorized(str(error)) from error
    # API Gateway takes the audience from `aud` (ID tokens) or `client_id` (Cognito access tokens).
    audiences = payload.get("aud", [])
    if audience not in (audiences if isinstance(audiences, list) else [audiences]) and payload.get("client_id") != audience:
        raise Unauthorized("Invalid audience")
    if not route.scopes:
        return Authorization(_claims_as_strings(payload), None)
    scopes = _token_scopes(payload)
    if not set(scopes) & set(route.scopes):
        raise Forbidden(route.scopes)
    return Authorization(_claims_as_strings(payload), scopes)


def _token_scopes(payload: dict[str, Any]) -> list[str]:
    """`scp` if present, else `scope`; either a list or a space-separated string."""
    value = payload.get("scp", payload.get("scope")) or []
    return [str(item) for item in value] if isinstance(value, list) else str(value).split()


def _claims_as_strings(payload: dict[str, Any]) -> dict[str, str]:
    return {name: _claim_text(value) for name, value in payload.items() if value is not None}


def _claim_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(item if isinstance(item, str) else json.dumps(item) for item in value) + "]"
    return json.dumps(value)  # numbers as written, booleans as true/false, objects as JSON


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class RouteMatch:
    function: FunctionSpec
    route: Route
    path_parameters: dict[str, str]


class Router:
    """The template's HttpApi routes, matched as API Gateway does ({name} is one path segment)."""

    def __init__(self, specs: dict[str, FunctionSpec]) -> None:
        self.routes = []
        for spec in specs.values():
            for route in spec.routes:
                pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(route.path))
                self.routes.append((re.compile(f"^{pattern}$"), route, spec))

    def match(self, method: str, path: str) -> RouteMatch | None:
        for pattern, route, spec in self.routes:
            found = pattern.match(path)
            if found and route.method == method:
                return RouteMatch(spec, route, found.groupdict())
        return None


# ---------------------------------------------------------------- the event and the response


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with "," (cookies with ";")
    body: bytes
    source_ip: str
    port: int


def http_event(match: RouteMatch, request: Request, authorization: Authorization | None, request_id: str) -> dict[str, Any]:
    """An HTTP API payload format 2.0 event (a route without an authorizer: none in its request context)."""
    now = datetime.now(timezone.utc)
    route_key = f"{match.route.method} {match.route.path}"
    headers = {name: value for name, value in request.headers.items() if name != "cookie"}
    headers.update({"x-forwarded-for": request.source_ip, "x-forwarded-port": str(request.port), "x-forwarded-proto": "http"})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            **({"authorizer": {"jwt": {"claims": authorization.claims, "scopes": authorization.scopes}}} if authorization else {}),
            "domainName": headers.get("host", "127.0.0.1").rsplit(":", 1)[0],
            "domainPrefix": "local",
            "http": {"method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                     "sourceIp": request.source_ip, "userAgent": headers.get("user-agent", "")},
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if "cookie" in request.headers:
        event["cookies"] = [cookie.strip() for cookie in request.headers["cookie"].split(";") if cookie.strip()]
    if request.query:
        values: dict[str, str] = {}
        for name, value in parse_qsl(request.query, keep_blank_values=True):
            values[name] = f"{values[name]},{value}" if name in values else value
        event["queryStringParameters"] = values
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if request.body:
        text = _as_text(request.body, headers.get("content-type", ""))
        if text is None:
            event["body"], event["isBase64Encoded"] = base64.b64encode(request.body).decode(), True
        else:
            event["body"] = text
    return event


def _as_text(body: bytes, content_type: str) -> str | None:
    media_type = content_type.split(";")[0].strip().lower()
    if not (media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


class InvalidResponse(Exception):
    """The function answered something API Gateway cannot turn into an HTTP response (it answers 502)."""


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A function's result as HTTP API turns it into a response (payload format 2.0)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Without a statusCode, HTTP API infers 200, JSON, and the result as the body (a string as is).
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, [("content-type", "application/json")], body.encode()
    try:
        status = int(result["statusCode"])
        headers = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
        headers += [("set-cookie", str(cookie)) for cookie in result.get("cookies") or []]
        body = result.get("body") or ""
        if not isinstance(body, str):
            raise TypeError(f"body must be a string, not {type(body).__name__}")
        data = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") else body.encode()
    except (TypeError, ValueError, AttributeError) as error:
        raise InvalidResponse(f"malformed Lambda proxy response: {error}") from error
    if not 100 <= status <= 599:
        raise InvalidResponse(f"malformed Lambda proxy response: statusCode {status}")
    return status, headers, data
