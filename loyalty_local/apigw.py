"""What API Gateway's HTTP API does in front of the functions: JWT authorizer, routing, payload v2.0."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
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
ISSUER = "http://127.0.0.1/local"
ROLE_SCOPES = {"member": "loyalty/member", "pos": "loyalty/pos", "admin": "loyalty/admin"}
ROLE_SUBJECTS = {"member": "local-member-1", "pos": "local-store-terminal", "admin": "local-back-office"}


def make_token(role: str, secret: str, sub: str | None = None, lifetime_seconds: int = 12 * 3600) -> str:
    now = int(time.time())
    claims = {
        "sub": sub or ROLE_SUBJECTS[role], "scope": ROLE_SCOPES[role], "client_id": f"local-{role}",
        "iss": ISSUER, "token_use": "access", "iat": now, "exp": now + lifetime_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class Unauthorized(Exception):
    pass


def authorize(headers: dict[str, str], secret: str) -> dict[str, str]:
    """The token's claims as API Gateway passes them (all values strings), or Unauthorized."""
    value = headers.get("authorization", "")
    token = value[7:] if value.lower().startswith("bearer ") else value
    if not token:
        raise Unauthorized("no token")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"], "verify_aud": False})
    except jwt.PyJWTError as error:
        raise Unauthorized(str(error)) from error
    return {key: value if isinstance(value, str) else _claim_text(value) for key, value in claims.items()}


def _claim_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    return str(value)


def has_scope(claims: dict[str, str], route: Route) -> bool:
    return not route.scopes or bool(set(claims.get("scope", "").split()) & set(route.scopes))


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


def http_event(match: RouteMatch, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
               claims: dict[str, str], source_ip: str) -> dict[str, Any]:
    """An HTTP API payload v2.0 event."""
    now = datetime.now(timezone.utc)
    route_key = f"{match.route.method} {match.route.path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if headers.get("cookie"):
        event["cookies"] = [part.strip() for part in headers["cookie"].split(";")]
    if query:
        values: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            values[name] = f"{values[name]},{value}" if name in values else value  # as API Gateway joins repeats
        event["queryStringParameters"] = values
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def http_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """A handler's result as HTTP API turns it into a response (payload format 2.0)."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {key: str(value) for key, value in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ",".join(map(str, values))
        return int(result["statusCode"]), headers, data
    return 200, {"content-type": "application/json"}, json.dumps(result).encode()
