"""openapi.json documents the client limits: a 429 on every operation (both bodies it may have, Retry-After),
and Retry-After on the 503s."""

from __future__ import annotations

import jsonschema
import pytest

from loyalty_local.openapi import build_openapi

DOCUMENT = build_openapi()
OPERATIONS = [(f"{method.upper()} {path}", operation) for path, item in DOCUMENT["paths"].items()
              for method, operation in item.items()]


@pytest.mark.parametrize(("key", "operation"), OPERATIONS, ids=[key for key, _ in OPERATIONS])
def test_every_operation_may_answer_429_with_retry_after(key, operation):
    throttled = operation["responses"]["429"]
    assert throttled["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    schema = {**throttled["content"]["application/json"]["schema"], "components": DOCUMENT["components"]}
    jsonschema.validate({"code": "TOO_MANY_REQUESTS", "message": "too many requests"}, schema)  # the local runtime's
    jsonschema.validate({"message": "Too Many Requests"}, schema)  # API Gateway's
    assert "Retry-After" in operation["responses"]["503"]["headers"]
