"""API Gateway's route throttling, as the template sets it: a token bucket per route.

The HttpApi's `RouteSettings` give each route (its route key, "GET /v1/members/{member_id}") a steady rate in
requests per second and a burst (the bucket's size); `DefaultRouteSettings` covers a route not listed. Over
them a request is refused with 429 before the authorizer or any function runs. The limits are the template's
parameters (MemberAppRateLimit, ReportsBurstLimit...), with the values of LOCAL_PARAMETER_OVERRIDES
("Name=Value Name=Value", as `sam deploy --parameter-overrides`) in place of their defaults.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loyalty_local.template import resolve, resources_of_type

TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"


@dataclass(frozen=True)
class Limit:
    rate: float  # requests per second, steady
    burst: int  # requests at once: the bucket's size


class TokenBucket:
    """Holds up to `burst` tokens, refilled at `rate` a second; each request takes one."""

    def __init__(self, limit: Limit, monotonic: Callable[[], float]) -> None:
        self.limit, self.monotonic = limit, monotonic
        self.tokens = float(limit.burst)
        self.updated = monotonic()
        self.lock = threading.Lock()

    def take(self) -> int:
        """0 when the request may pass (a token taken); otherwise the whole seconds until a token is back."""
        with self.lock:
            now = self.monotonic()
            self.tokens = min(float(self.limit.burst), self.tokens + (now - self.updated) * self.limit.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0
            return max(1, math.ceil((1 - self.tokens) / self.limit.rate))


class Throttle:
    """One bucket per route key; a route without settings of its own shares the default's limits (its own bucket)."""

    def __init__(self, limits: Mapping[str, Limit], default: Limit | None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits, self.default, self.monotonic = dict(limits), default, monotonic
        self.buckets: dict[str, TokenBucket] = {}
        self.lock = threading.Lock()

    @classmethod
    def from_template(cls, template: dict[str, Any], overrides: Mapping[str, str] | None = None,
                      monotonic: Callable[[], float] = time.monotonic) -> Throttle:
        apis = resources_of_type(template, "AWS::Serverless::HttpApi")
        if len(apis) != 1:
            raise ValueError(f"expected one HttpApi in the template, found {len(apis)}")
        properties = resolve(next(iter(apis.values()))["Properties"], template, dict(overrides or {}))
        routes = {key: _limit(settings) for key, settings in (properties.get("RouteSettings") or {}).items()}
        default = properties.get("DefaultRouteSettings")
        return cls({key: limit for key, limit in routes.items() if limit}, _limit(default) if default else None, monotonic)

    def limit_of(self, route_key: str) -> Limit | None:
        return self.limits.get(route_key, self.default)

    def retry_after(self, route_key: str) -> int:
        """0: the request passes; otherwise it is refused, and the client may retry after that many seconds."""
        limit = self.limit_of(route_key)
        if limit is None:
            return 0
        with self.lock:
            bucket = self.buckets.get(route_key)
            if bucket is None:
                bucket = self.buckets[route_key] = TokenBucket(limit, self.monotonic)
        return bucket.take()


def _limit(settings: Mapping[str, Any]) -> Limit | None:
    rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
    if rate is None or burst is None:
        return None
    return Limit(float(rate), int(float(burst)))


def parse_overrides(text: str) -> dict[str, str]:
    """"Name=Value Name=Value" (SAM's --parameter-overrides shorthand) as a dict; a malformed pair is an error."""
    overrides = {}
    for pair in text.split():
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise ValueError(f"LOCAL_PARAMETER_OVERRIDES: {pair!r} is not Name=Value")
        overrides[name] = value
    return overrides
