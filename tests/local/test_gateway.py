"""The API Gateway emulation in-process: authorizer, routing, the v2.0 event and the response."""

from __future__ import annotations

import base64
import io
import time

import jwt
import pytest

from loyalty_local import apigw
from loyalty_local.server import _function_name, _joined_headers, _read_body
from loyalty_local.template import Route, functions

SECRET = "unit-secret-unit-secret-unit-secret"
SCOPED = Route("POST", "/v1/members/{member_id}/earn", ("loyalty/pos", "loyalty/admin"))
UNSCOPED = Route("GET", "/health", ())


ISSUED = {"iss": apigw.DEFAULT_ISSUER, "client_id": apigw.DEFAULT_AUDIENCE}


def bearer(claims: dict, secret: str = SECRET) -> dict[str, str]:
    """A token from the local issuer for the local app client, with `claims` (None removes one)."""
    claims = {name: value for name, value in {**ISSUED, **claims}.items() if value is not None}
    return {"authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


def test_tokens_carry_the_role_scope_and_verify():
    authorization = apigw.authorize({"authorization": f"Bearer {apigw.make_token('pos', SECRET)}"}, SECRET, SCOPED)
    claims = authorization.claims
    assert claims["scope"] == "loyalty/pos" and claims["sub"] == "local-store-terminal"
    assert claims["iss"] == "loyalty-local" and claims["client_id"] == "loyalty-local"
    assert int(claims["exp"]) - int(claims["iat"]) == 12 * 3600
    assert authorization.scopes == ["loyalty/pos"]


def test_claims_reach_the_function_as_strings_like_api_gateway_sends_them():
    now = int(time.time())
    claims = apigw.authorize(bearer({"exp": now + 60, "email_verified": True, "groups": ["a", "b"], "gone": None}),
                             SECRET, UNSCOPED).claims
    assert claims == {**ISSUED, "exp": str(now + 60), "email_verified": "true", "groups": "[a b]"}


def test_scopes_come_from_scope_or_scp_and_only_scoped_routes_list_them():
    now = int(time.time())
    assert apigw.authorize(bearer({"exp": now + 60, "scp": ["loyalty/admin"]}), SECRET, SCOPED).scopes == ["loyalty/admin"]
    assert apigw.authorize(bearer({"exp": now + 60, "scope": "openid loyalty/pos"}), SECRET, SCOPED).scopes == ["openid", "loyalty/pos"]
    assert apigw.authorize(bearer({"exp": now + 60, "scope": "loyalty/pos"}), SECRET, UNSCOPED).scopes is None
    with pytest.raises(apigw.Forbidden) as refused:
        apigw.authorize(bearer({"exp": now + 60, "scope": "loyalty/member"}), SECRET, SCOPED)
    assert refused.value.challenge().startswith('Bearer scope="loyalty/pos loyalty/admin" error="insufficient_scope"')


def test_a_bare_token_is_accepted_as_api_gateway_does():
    assert apigw.authorize({"authorization": apigw.make_token("admin", SECRET)}, SECRET, SCOPED).claims["sub"] == "local-back-office"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer "},
        {"authorization": "Bearer not-a-jwt"},
        bearer({"sub": "x", "scope": "loyalty/pos"}),
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) - 1}),
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) + 60, "nbf": int(time.time()) + 600}),
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) + 60, "iat": int(time.time()) + 600}),
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) + 60}, secret="another-secret-another-secret-xx"),
        {"authorization": "Bearer " + jwt.encode({**ISSUED, "scope": "loyalty/pos", "exp": int(time.time()) + 60}, None, algorithm="none")},
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) + 60, "iss": None}),
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) + 60, "iss": "https://issuer.example.com"}),
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) + 60, "client_id": None}),
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) + 60, "client_id": "another-app"}),
        bearer({"scope": "loyalty/pos", "exp": int(time.time()) + 60, "client_id": None, "aud": ["another-app"]}),
    ],
    ids=["missing", "empty", "garbage", "no expiry", "expired", "not yet valid", "issued in the future", "forged", "unsigned",
         "no issuer", "another issuer", "no audience", "another client", "another audience"],
)
def test_the_authorizer_refuses(headers):
    with pytest.raises(apigw.Unauthorized) as refused:
        apigw.authorize(headers, SECRET, SCOPED)
    assert refused.value.challenge().startswith("Bearer")


def test_the_audience_may_be_aud_or_client_id_and_both_are_configurable():
    now = int(time.time())
    assert apigw.authorize(bearer({"exp": now + 60, "client_id": None, "aud": "loyalty-local"}), SECRET, UNSCOPED)
    assert apigw.authorize(bearer({"exp": now + 60, "client_id": None, "aud": ["x", "loyalty-local"]}), SECRET, UNSCOPED)
    token = apigw.make_token("pos", SECRET, issuer="https://id.example.com", audience="terminal-app")
    assert apigw.authorize({"authorization": token}, SECRET, SCOPED, "https://id.example.com", "terminal-app")
    with pytest.raises(apigw.Unauthorized):
        apigw.authorize({"authorization": token}, SECRET, SCOPED)


def test_an_invalid_token_says_why_in_www_authenticate():
    with pytest.raises(apigw.Unauthorized) as refused:
        apigw.authorize(bearer({"exp": int(time.time()) - 1}), SECRET, SCOPED)
    assert refused.value.challenge() == 'Bearer scope="" error="invalid_token" error_description="Signature has expired"'


def test_routes_come_from_the_template_with_their_scopes():
    router = apigw.Router(functions())
    match = router.match("POST", "/v1/members/m123/earn")
    assert match.function.logical_id == "EarnFunction" and match.path_parameters == {"member_id": "m123"}
    assert set(match.route.scopes) == {"loyalty/pos", "loyalty/admin"}
    assert router.match("GET", "/v1/members/m123/earn") is None
    assert router.match("GET", "/v1/members/a/b/activity") is None


def request(path="/v1/members/me/activity", query="", headers=None, body=b"", method="GET"):
    return apigw.Request(method, path, query, headers or {}, body, "10.0.0.9", 3000)


def test_the_event_is_payload_v2():
    match = apigw.Router(functions()).match("GET", "/v1/members/me/activity")
    headers = {"user-agent": "app/1", "cookie": "a=1; b=2", "x-tag": "one,two", "host": "127.0.0.1:3000"}
    authorization = apigw.Authorization({"sub": "s", "scope": "loyalty/member"}, ["loyalty/member"])
    event = apigw.http_event(match, request(query="limit=5&x=1&x=2", headers=headers), authorization, "req-1")
    assert event["version"] == "2.0" and event["routeKey"] == "GET /v1/members/{member_id}/activity"
    assert event["rawPath"] == "/v1/members/me/activity" and event["rawQueryString"] == "limit=5&x=1&x=2"
    assert event["queryStringParameters"] == {"limit": "5", "x": "1,2"} and event["pathParameters"] == {"member_id": "me"}
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-tag"] == "one,two" and event["headers"]["x-forwarded-for"] == "10.0.0.9"
    context = event["requestContext"]
    assert context["authorizer"]["jwt"] == {"claims": {"sub": "s", "scope": "loyalty/member"}, "scopes": ["loyalty/member"]}
    assert context["http"] == {"method": "GET", "path": "/v1/members/me/activity", "protocol": "HTTP/1.1",
                               "sourceIp": "10.0.0.9", "userAgent": "app/1"}
    assert context["requestId"] == "req-1" and context["routeKey"] == event["routeKey"] and context["stage"] == "$default"
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 5 and context["time"].endswith(" +0000")
    assert "body" not in event and event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "body", "encoded"),
    [("application/json", b'{"a": 1}', False), ("text/csv; charset=utf-8", b"a,b", False),
     ("application/octet-stream", b"\xff\xfe", True), ("application/x-www-form-urlencoded", b"a=1", True),
     ("text/plain", b"\xff", True), ("", b"abc", True)],
)
def test_a_body_that_is_not_text_arrives_base64_encoded(content_type, body, encoded):
    match = apigw.Router(functions()).match("POST", "/v1/members")
    headers = {"content-type": content_type} if content_type else {}
    event = apigw.http_event(match, request("/v1/members", headers=headers, body=body, method="POST"),
                             apigw.Authorization({}, None), "req-1")
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(event["body"]) if encoded else event["body"].encode()) == body


def test_responses_convert_like_http_api():
    assert apigw.http_response({"statusCode": 201, "headers": {"X": "1"}, "body": "{}"}) == (201, [("X", "1")], b"{}")
    cookies = apigw.http_response({"statusCode": 200, "cookies": ["a=1", "b=2; Secure"]})[1]
    assert cookies == [("set-cookie", "a=1"), ("set-cookie", "b=2; Secure")]
    assert apigw.http_response({"statusCode": 200, "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True})[2] == b"\x00"
    # Without a statusCode, HTTP API answers 200 JSON with the result as the body.
    assert apigw.http_response({"a": 1}) == (200, [("content-type", "application/json")], b'{"a": 1}')
    assert apigw.http_response("plain text")[2] == b"plain text"
    for malformed in ({"statusCode": "abc"}, {"statusCode": 200, "body": {"a": 1}}, {"statusCode": 999},
                      {"statusCode": 200, "body": "!!", "isBase64Encoded": True}):
        with pytest.raises(apigw.InvalidResponse):
            apigw.http_response(malformed)


class Headers:
    """The parts of http.client.HTTPMessage the server reads."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = pairs

    def items(self):
        return list(self.pairs)

    def get(self, name: str, default=None):
        return next((value for key, value in self.pairs if key.lower() == name), default)


def test_repeated_request_headers_are_joined_like_api_gateway():
    headers = Headers(("X-Tag", "a"), ("x-tag", "b"), ("Cookie", "c=1"), ("Cookie", "d=2"))
    assert _joined_headers(headers) == {"x-tag": "a,b", "cookie": "c=1; d=2"}


def test_bodies_are_read_by_length_or_chunked():
    assert _read_body(Headers(("content-length", "3")), io.BytesIO(b"abcdef")) == b"abc"
    chunked = io.BytesIO(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /next")
    assert _read_body(Headers(("transfer-encoding", "chunked")), chunked) == b"abcde"
    assert chunked.read() == b"GET /next", "the next request on the connection is left as it was"
    for length, body in (("-1", b""), (None, b"zz\r\nabc\r\n0\r\n\r\n")):
        headers = Headers(("content-length", length)) if length else Headers(("transfer-encoding", "chunked"))
        with pytest.raises(ValueError):
            _read_body(headers, io.BytesIO(body))


@pytest.mark.parametrize("identifier", ["ReportFunction", "ReportFunction:$LATEST", "123456789012:function:ReportFunction",
                                        "arn:aws:lambda:us-east-1:123456789012:function:ReportFunction:live"])
def test_the_invoke_api_takes_a_name_or_an_arn(identifier):
    assert _function_name(identifier) == "ReportFunction"
