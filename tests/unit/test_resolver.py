"""The shared resolver on its own: a route that raises a domain error, answered as API.md says."""

from __future__ import annotations

import json

import pytest

from loyalty.api.resolver import make_resolver
from loyalty.domain import errors
from tests.conftest import LambdaContext, http_event


@pytest.mark.parametrize(("error", "details"), [
    (errors.InsufficientPoints("short", balance=40, needed=120), {"balance": 40, "needed": 120}),
    (errors.MemberNotFound("no member m1"), None),
    (errors.Busy("retry", cause="ProvisionedThroughputExceededException"), None),  # a failure's cause is not the caller's
])
def test_a_domain_error_answers_its_code_and_only_a_refusals_details(error, details):
    app = make_resolver()

    @app.get("/v1/fails")
    def fails():
        raise error

    reply = app.resolve(http_event("GET", "/v1/fails"), LambdaContext())
    body = json.loads(reply["body"])
    assert (reply["statusCode"], body["code"]) == (error.status, error.code)
    assert body.get("details") == details


def test_routes_from_an_included_router_document_the_shared_statuses_too():
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    router = APIGatewayHttpRouter()

    @router.post("/v1/things", responses={409: {"description": "THING_EXISTS"}})
    def create(body: dict) -> dict:
        return body

    app = make_resolver()
    app.include_router(router)
    responses = app.get_openapi_schema().paths["/v1/things"].post.responses
    assert {400, 401, 403, 409, 415, 422, 500, 503} <= {int(status) for status in responses}


def test_a_request_refused_before_routing_answers_in_the_same_shape_as_a_routed_one():
    app = make_resolver()

    @app.post("/v1/echo")
    def echo():
        return {"ok": True}

    routed = app.resolve(http_event("POST", "/v1/echo", body={}), LambdaContext())
    refused = app.resolve(http_event("POST", "/v1/echo", raw_body="{not json"), LambdaContext())
    assert (routed["statusCode"], refused["statusCode"]) == (200, 400)
    assert set(refused) == set(routed) and refused["cookies"] == routed["cookies"] == []
    assert refused["isBase64Encoded"] is False and json.loads(refused["body"])["code"] == "MALFORMED_JSON"
