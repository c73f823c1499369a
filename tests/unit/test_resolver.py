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
