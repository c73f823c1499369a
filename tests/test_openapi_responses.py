"""The OpenAPI document names every status a route can answer, with a body schema that admits the real bodies."""

from __future__ import annotations

import jsonschema
import pytest

from loyalty_local.openapi import build_openapi

DOCUMENT = build_openapi()
OPERATIONS = [(method.upper(), path, operation) for path, item in DOCUMENT["paths"].items() for method, operation in item.items()]
IDS = [f"{method} {path}" for method, path, _ in OPERATIONS]

EVERY_ROUTE = {"401", "403", "500", "503"}
BODY_ROUTE = {"400", "415", "422"}
MEMBER_ROUTE = {"404", "422"}


def schema_of(operation: dict, status: str) -> dict:
    return {**operation["responses"][status]["content"]["application/json"]["schema"], "components": DOCUMENT["components"]}


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_every_route_documents_the_statuses_it_can_answer(method, path, operation):
    statuses = set(operation["responses"])
    assert statuses >= EVERY_ROUTE
    if method in ("POST", "PUT", "PATCH"):
        assert statuses >= BODY_ROUTE
    else:
        assert not statuses & {"415"}  # reads ignore bodies, so never refuse one
    if "{member_id}" in path:
        assert statuses >= MEMBER_ROUTE
    if operation.get("parameters"):
        assert "422" in statuses


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_every_error_status_has_a_json_body_schema(method, path, operation):
    for status in operation["responses"]:
        if int(status) >= 400:
            schema = schema_of(operation, status)
            jsonschema.validate({"code": "SOME_CODE", "message": "why"}, schema)
            jsonschema.validate({"code": "INSUFFICIENT_POINTS", "message": "why", "details": {"balance": 1}}, schema)


@pytest.mark.parametrize("status", ["401", "403", "503"])
def test_the_gateways_own_refusals_match_the_documented_schema(status):
    for _, _, operation in OPERATIONS:
        jsonschema.validate({"message": "Unauthorized"}, schema_of(operation, status))
        jsonschema.validate({"code": "INVALID_TOKEN", "message": "why"}, schema_of(operation, status))


def test_function_errors_keep_their_code():
    _, _, operation = OPERATIONS[0]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"message": "no code"}, schema_of(operation, "500"))
