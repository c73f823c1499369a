"""The API Gateway emulation in-process: authorizer, routing, the v2.0 event and the response."""

from __future__ import annotations

import base64
import time

import jwt
import pytest

from loyalty_local import apigw
from loyalty_local.template import functions

SECRET = "unit-secret-unit-secret-unit-secret"


def test_tokens_carry_the_role_scope_and_verify():
    claims = apigw.authorize({"authorization": f"Bearer {apigw.make_token('pos', SECRET)}"}, SECRET)
    assert claims["scope"] == "loyalty/pos" and claims["sub"] == "local-store-terminal"
    assert isinstance(claims["exp"], str), "API Gateway passes every claim as a string"


@pytest.mark.parametrize(
    "header",
    ["", "Bearer ", "Bearer not-a-jwt", f"Bearer {jwt.encode({'sub': 'x', 'scope': 'loyalty/pos'}, SECRET, algorithm='HS256')}"],
    ids=["missing", "empty", "garbage", "no expiry"],
)
def test_the_authorizer_refuses(header):
    with pytest.raises(apigw.Unauthorized):
        apigw.authorize({"authorization": header}, SECRET)


def test_routes_come_from_the_template_with_their_scopes():
    router = apigw.Router(functions())
    match = router.match("POST", "/v1/members/m123/earn")
    assert match.function.logical_id == "EarnFunction" and match.path_parameters == {"member_id": "m123"}
    assert set(match.route.scopes) == {"loyalty/pos", "loyalty/admin"}
    assert router.match("GET", "/v1/members/m123/earn") is None
    assert router.match("GET", "/v1/members/a/b/activity") is None
    assert not apigw.has_scope({"scope": "loyalty/member"}, match.route)
    assert apigw.has_scope({"scope": "openid loyalty/pos"}, match.route)


def test_the_event_is_payload_v2():
    match = apigw.Router(functions()).match("GET", "/v1/members/me/activity")
    event = apigw.http_event(match, "GET", "/v1/members/me/activity", "limit=5&x=1&x=2", {"user-agent": "t"}, b"",
                             {"sub": "s", "scope": "loyalty/member"}, "127.0.0.1")
    assert event["version"] == "2.0" and event["routeKey"] == "GET /v1/members/{member_id}/activity"
    assert event["queryStringParameters"] == {"limit": "5", "x": "1,2"} and event["pathParameters"] == {"member_id": "me"}
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "s"
    assert abs(event["requestContext"]["timeEpoch"] / 1000 - time.time()) < 5
    binary = apigw.http_event(match, "GET", "/", "", {}, b"\xff\xfe", {}, "127.0.0.1")
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\xff\xfe"


def test_responses_convert_like_http_api():
    assert apigw.http_response({"statusCode": 201, "headers": {"X": "1"}, "body": "{}"}) == (201, {"X": "1"}, b"{}")
    assert apigw.http_response({"a": 1})[0:2] == (200, {"content-type": "application/json"})
