"""openapi.json documents the client limits: a 429 on every operation (both bodies it may have, Retry-After),
and Retry-After on the 503s."""

from __future__ import annotations

import jsonschema
import pytest

from tests.openapi_operations import OPERATION_KEYS, operation_of


@pytest.mark.parametrize(("method", "path"), OPERATION_KEYS, ids=[f"{m} {p}" for m, p in OPERATION_KEYS])
def test_every_operation_may_answer_429_with_retry_after(built_openapi, method, path):
    operation = operation_of(built_openapi, method, path)
    throttled = operation["responses"]["429"]
    assert throttled["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    schema = {**throttled["content"]["application/json"]["schema"], "components": built_openapi["components"]}
    jsonschema.validate({"code": "TOO_MANY_REQUESTS", "message": "too many requests"}, schema)  # the local runtime's
    jsonschema.validate({"message": "Too Many Requests"}, schema)  # API Gateway's
    assert "Retry-After" in operation["responses"]["503"]["headers"]
