"""Issue 8's bad-input battery over real HTTP: the gateway's encodings reach the resolver, which answers a 4xx."""

from __future__ import annotations

import uuid

import jwt
import pytest
import requests

TIMEOUT = 30


def post_raw(runtime, path: str, data: bytes, content_type: str | None, role: str = "pos", **headers):
    if content_type is not None:
        headers["content-type"] = content_type
    return requests.post(f"{runtime.api}{path}", data=data, headers=runtime.headers(role, **headers), timeout=TIMEOUT)


def enrollment() -> bytes:
    return f'{{"email": "{uuid.uuid4().hex[:12]}@example.com", "name": "Ann"}}'.encode()


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "*/*", "multipart/form-data", None])
def test_other_media_types_get_415(local_runtime, content_type):
    reply = post_raw(local_runtime, "/v1/members", enrollment(), content_type)
    assert (reply.status_code, reply.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_application_json_is_accepted_in_any_case(local_runtime):
    assert post_raw(local_runtime, "/v1/members", enrollment(), "Application/JSON; Charset=UTF-8").status_code == 201


@pytest.mark.parametrize(("data", "says"), [
    (b"\xff\xfe", "UTF-8"),  # arrives base64-encoded, as API Gateway passes a body that is not text
    (b"[" * 1_000 + b"]" * 1_000, "32"),
    (b'{"email": ' + b"9" * 4_301 + b"}", "digits"),
    (b"{not json", "JSON"),
])
def test_bodies_the_api_cannot_read_get_400(local_runtime, data, says):
    reply = post_raw(local_runtime, "/v1/members", data, "application/json")
    assert (reply.status_code, reply.json()["code"]) == (400, "MALFORMED_JSON") and says in reply.json()["message"]


def test_a_member_token_without_sub_is_refused(local_runtime):
    claims = jwt.decode(local_runtime.token("member"), options={"verify_signature": False})
    del claims["sub"]
    token = jwt.encode(claims, local_runtime.secret, algorithm="HS256")
    reply = requests.get(f"{local_runtime.api}/v1/program", headers={"authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert (reply.status_code, reply.json()["code"]) == (401, "INVALID_TOKEN")
    assert "invalid_token" in reply.headers["www-authenticate"]
