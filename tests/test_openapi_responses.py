"""The OpenAPI document names every status a route can answer, with a body schema that admits the real bodies."""

from __future__ import annotations

import jsonschema
import pytest

from loyalty_local.openapi import render
from tests.openapi_operations import OPERATION_KEYS, ROOT, operation_of

IDS = [f"{method} {path}" for method, path in OPERATION_KEYS]

EVERY_ROUTE = {"401", "403", "500", "503"}
BODY_ROUTE = {"400", "415", "422"}
MEMBER_ROUTE = {"404", "422"}


def schema_of(document: dict, operation: dict, status: str) -> dict:
    return {**operation["responses"][status]["content"]["application/json"]["schema"], "components": document["components"]}


@pytest.mark.parametrize(("method", "path"), OPERATION_KEYS, ids=IDS)
def test_every_route_documents_the_statuses_it_can_answer(built_openapi, method, path):
    operation = operation_of(built_openapi, method, path)
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


@pytest.mark.parametrize(("method", "path"), OPERATION_KEYS, ids=IDS)
def test_every_error_status_has_a_json_body_schema(built_openapi, method, path):
    operation = operation_of(built_openapi, method, path)
    for status in operation["responses"]:
        if int(status) >= 400:
            schema = schema_of(built_openapi, operation, status)
            jsonschema.validate({"code": "SOME_CODE", "message": "why"}, schema)
            jsonschema.validate({"code": "INSUFFICIENT_POINTS", "message": "why", "details": {"balance": 1}}, schema)


@pytest.mark.parametrize("status", ["401", "403", "503"])
def test_the_gateways_own_refusals_match_the_documented_schema(built_openapi, status):
    for method, path in OPERATION_KEYS:
        operation = operation_of(built_openapi, method, path)
        jsonschema.validate({"message": "Unauthorized"}, schema_of(built_openapi, operation, status))
        jsonschema.validate({"code": "INVALID_TOKEN", "message": "why"}, schema_of(built_openapi, operation, status))


def test_function_errors_keep_their_code(built_openapi):
    operation = operation_of(built_openapi, *OPERATION_KEYS[0])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"message": "no code"}, schema_of(built_openapi, operation, "500"))


def test_the_committed_document_is_the_one_the_code_builds(built_openapi):
    """`make check-openapi` in the test run too, so that mutmut sees every word the resolver documents (a 403
    documented without its description survived the statuses' tests)."""
    assert (ROOT / "openapi.json").read_text(encoding="utf-8") == render(built_openapi), "run `make openapi`"
