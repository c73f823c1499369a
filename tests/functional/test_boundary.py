"""The API boundary, through the handlers: bodies, tokens and error bodies as API.md requires them."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.conftest import call, http_event
from tests.functional.helpers import MEMBER, enroll, redeem, table_items, view

pytestmark = pytest.mark.usefixtures("tables")

ENROLL = {"email": "ann@example.com", "name": "Ann"}
# Every route that takes a body, with a body it accepts (the member is created by the test).
BODY_ROUTES = [
    ("enroll", "POST", "/v1/members", lambda _: ENROLL, {}),
    ("earn", "POST", "/v1/members/{m}/earn", lambda _: {"transaction_id": "t1", "amount_minor": 100, "currency": "EUR"}, {}),
    ("earn", "POST", "/v1/members/{m}/returns",
     lambda _: {"transaction_id": "t1", "return_id": "r1", "amount_minor": 100}, {}),
    ("redeem", "POST", "/v1/members/{m}/redemptions", lambda _: {"points": 1}, {"Idempotency-Key": "k1"}),
]
ALL_ROUTES = [
    ("report", "GET", "/v1/program"), ("report", "GET", "/v1/members/{m}"), ("report", "GET", "/v1/members/{m}/activity"),
    ("report", "GET", "/v1/reports/program?from=2026-11-01&to=2026-11-02"), ("redeem", "GET", "/v1/rewards"),
    *[(function, method, path) for function, method, path, _, _ in BODY_ROUTES],
]


def send(function: str, method: str, path: str, member_id: str, *, raw: str | None = None, body=None,
         content_type: str | None = "application/json", headers: dict | None = None, base64_body: bytes | None = None,
         scopes: str = "loyalty/pos", sub: str | None = "terminal-1"):
    path, _, query = path.format(m=member_id).partition("?")
    event = http_event(method, path, body=body, raw_body=raw, headers=headers, scopes=scopes, sub=sub or "",
                       query=dict(pair.split("=") for pair in query.split("&")) if query else None)
    if sub is None:
        del event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    if content_type is None:
        del event["headers"]["content-type"]
    else:
        event["headers"]["content-type"] = content_type
    if base64_body is not None:
        event["body"], event["isBase64Encoded"] = base64.b64encode(base64_body).decode(), True
    return call(function, event)


@pytest.fixture
def member_id() -> str:
    return enroll("someone@example.com")["member_id"]


# ------------------------------------------------------------------ media types and encodings


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/xml", "*/*", "multipart/form-data", "application/x-www-form-urlencoded",
    "application/jsonp", "application/json; charset=latin-1", None,
])
@pytest.mark.parametrize(("function", "method", "path", "body", "headers"), BODY_ROUTES)
def test_a_body_that_is_not_json_gets_415_and_writes_nothing(member_id, function, method, path, body, headers, content_type):
    before = table_items()
    reply = send(function, method, path, member_id, raw=json.dumps(body(member_id)), content_type=content_type,
                 headers=headers)
    assert (reply.status, reply["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert table_items() == before


@pytest.mark.parametrize("content_type", ["Application/JSON", "application/json; charset=UTF-8", 'APPLICATION/JSON;CHARSET="utf-8"'])
def test_json_media_type_is_case_insensitive_and_may_name_its_charset(content_type):
    reply = send("enroll", "POST", "/v1/members", "", raw=json.dumps(ENROLL), content_type=content_type)
    assert reply.status == 201


def test_a_base64_json_body_is_decoded_as_api_gateway_sends_it():
    reply = send("enroll", "POST", "/v1/members", "", base64_body=json.dumps(ENROLL).encode())
    assert reply.status == 201 and view(reply["member_id"])["name"] == "Ann"


@pytest.mark.parametrize("raw", [b"\xff\xfe", b'{"email": "ann@example.com", "name": "\xe9"}'])
@pytest.mark.parametrize(("function", "method", "path", "body", "headers"), BODY_ROUTES)
def test_a_body_that_is_not_utf8_gets_400(member_id, function, method, path, body, headers, raw):
    before = table_items()
    reply = send(function, method, path, member_id, base64_body=raw, headers=headers)
    assert (reply.status, reply["code"]) == (400, "MALFORMED_JSON") and "UTF-8" in reply["message"]
    assert table_items() == before


@pytest.mark.parametrize("raw", ["{", "ann", '{"email": NaN}', '{"a": Infinity}', "[1,]"])
def test_a_body_that_is_not_json_gets_400_malformed_json(raw):
    reply = send("enroll", "POST", "/v1/members", "", raw=raw)
    assert (reply.status, reply["code"]) == (400, "MALFORMED_JSON")


def nested(levels: int) -> str:
    """An enrollment whose ignored extra field makes the body `levels` deep (the body object is level 1)."""
    return json.dumps({**ENROLL, "extra": "[" * (levels - 1) + "]" * (levels - 1)}).replace('"[', "[").replace(']"', "]")


def test_nesting_deeper_than_32_levels_gets_400_and_32_is_accepted():
    assert send("enroll", "POST", "/v1/members", "", raw=nested(32)).status == 201
    for levels in (33, 1_000, 100_000):
        reply = send("enroll", "POST", "/v1/members", "", raw=nested(levels).replace("ann@", f"ann{levels}@"))
        assert (reply.status, reply["code"]) == (400, "MALFORMED_JSON") and "32" in reply["message"]


def test_brackets_inside_strings_do_not_count_as_nesting():
    reply = send("enroll", "POST", "/v1/members", "", body={**ENROLL, "name": "[{" * 40 + '\\"'})
    assert reply.status == 201


def test_a_body_of_escaped_quotes_is_refused_in_linear_time():
    started = time.monotonic()
    reply = send("enroll", "POST", "/v1/members", "", raw='{"email": "' + '\\"' * 200_000)
    assert (reply.status, reply["code"]) == (400, "MALFORMED_JSON")
    assert time.monotonic() - started < 10  # a scan that restarts at every quote takes minutes here


@pytest.mark.parametrize("digits", [33, 4_301, 100_000])
def test_numbers_too_long_to_mean_anything_get_400(member_id, digits):
    before = table_items()
    raw = '{"transaction_id": "t1", "currency": "EUR", "amount_minor": ' + "9" * digits + "}"
    reply = send("earn", "POST", "/v1/members/{m}/earn", member_id, raw=raw)
    assert (reply.status, reply["code"]) == (400, "MALFORMED_JSON")
    assert table_items() == before


def test_a_float_is_malformed_only_past_32_digits_plus_its_sign_point_and_exponent(member_id):
    longest, too_long = "-1." + "0" * 34 + "e+1", "-1." + "0" * 35 + "e+1"
    assert (len(longest), len(too_long)) == (40, 41)
    for text, malformed in ((longest, False), (too_long, True)):
        raw = '{"transaction_id": "t1", "currency": "EUR", "amount_minor": ' + text + "}"
        reply = send("earn", "POST", "/v1/members/{m}/earn", member_id, raw=raw)
        assert (reply.status == 400 and reply["code"] == "MALFORMED_JSON") == malformed, (len(text), reply.status)
        assert reply.status in (400, 422)  # a float is no amount in minor units: refused either way


def test_a_large_but_parseable_number_is_a_422_validation_error(member_id):
    raw = '{"transaction_id": "t1", "currency": "EUR", "amount_minor": ' + "9" * 30 + "}"
    reply = send("earn", "POST", "/v1/members/{m}/earn", member_id, raw=raw)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR")


def test_a_read_ignores_whatever_body_comes_with_it(member_id):
    assert send("report", "GET", "/v1/members/{m}", member_id, raw="\x00 not json", content_type="text/plain").status == 200


# ------------------------------------------------------------------ tokens


@pytest.mark.parametrize("sub", [None, "", "   "])
@pytest.mark.parametrize(("function", "method", "path"), ALL_ROUTES)
def test_a_member_token_without_a_subject_is_refused_on_every_route(function, method, path, sub):
    member_id = enroll("till@example.com")["member_id"]  # enrolled at a till: its sub is absent too
    before = table_items()
    body = next((make(member_id) for f, m, p, make, _ in BODY_ROUTES if (f, m, p) == (function, method, path)), None)
    reply = send(function, method, path, member_id, body=body, headers={"Idempotency-Key": "k1"},
                 scopes=MEMBER, sub=sub)
    assert (reply.status, reply["code"]) == (401, "INVALID_TOKEN")
    assert table_items() == before


def test_a_member_token_with_a_subject_still_reaches_its_own_member():
    enroll("me@example.com", scopes=MEMBER, sub="user-1")
    assert view("me", scopes=MEMBER, sub="user-1").status == 200


# ------------------------------------------------------------------ error details


def test_a_refused_redemption_says_what_the_balance_was_and_what_was_needed(member_id):
    reply = redeem(member_id, "k1", points=500)
    assert (reply.status, reply["code"]) == (422, "INSUFFICIENT_POINTS")
    assert reply["details"] == {"balance": 50, "needed": 500}


def test_errors_without_details_carry_no_details_field():
    reply = view("nobody")
    assert reply.status == 404 and "details" not in reply.body


# ------------------------------------------------------------------ e-mails and text fields


@pytest.mark.parametrize("email", [
    "ann\x00@example.com", "ann@example.com\x00", "a b@example.com", "ann@@example.com", "ann@example",
    ".ann@example.com", "a..b@example.com", "ann@-example.com", "ann@exa_mple.com", "ann@example.123",
    "ann@mail.example.123",  # a numeric top-level label, behind more than one dot
    "a" * 65 + "@example.com", "ann@" + "a" * 250 + ".com", "ann\u2028@example.com", '"ann"@example.com',
])
def test_an_email_a_careful_api_would_refuse_gets_422_and_writes_nothing(email):
    before = table_items()
    reply = enroll(email)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR") and reply["errors"][0]["field"] == "email"
    assert table_items() == before


@pytest.mark.parametrize("email", ["a.b+tag@mail.example.co.uk", "jürgen@bücher.de", "x@a-b.io"])
def test_ordinary_emails_are_accepted(email):
    assert enroll(email).status == 201


@pytest.mark.parametrize("text", ["Ann\x00", "Ann\x1b[31m", "Ann\nSmith", "\x7f"])
def test_names_with_control_characters_get_422(text):
    reply = enroll(name=text)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR") and reply["errors"][0]["field"] == "name"
    assert "must not contain control characters" in reply["errors"][0]["message"]  # what the form shows beside the field


@pytest.mark.parametrize("field", ["store_id", "items.0.sku", "items.0.category"])
def test_free_text_fields_of_a_purchase_reject_control_characters(member_id, field):
    body = {"transaction_id": "t1", "amount_minor": 100, "currency": "EUR"}
    if field == "store_id":
        body["store_id"] = "s\x001"
    else:
        body["items"] = [{"sku": "sku-1", "category": "coffee", "amount_minor": 100, field.split(".")[-1]: "x\x00"}]
    reply = send("earn", "POST", "/v1/members/{m}/earn", member_id, body=body)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR") and reply["errors"][0]["field"] == field


def test_names_in_any_script_with_emoji_are_accepted():
    assert enroll(name="Zoë 김 👩‍💻").status == 201
