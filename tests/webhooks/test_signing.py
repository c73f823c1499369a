"""The Loyalty-Signature header, checked against an HMAC computed here independently, and verified as a receiver
would: a tampered body, another secret, an old or future timestamp and malformed headers are refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.webhooks.signing import SignatureRefused, new_secret, sign, verify

SECRET = "whsec_test-secret"
T = 1_796_000_000


def expected(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_header_is_the_contracts():
    body = b'{"detail-type":"PointsEarned"}'
    assert sign(SECRET, body, T) == f"t={T},v1={expected(SECRET, T, body)}"


@given(secret=st.text(min_size=1, max_size=40), body=st.binary(max_size=300), skew=st.integers(-300, 300))
def test_a_receiver_verifies_what_was_signed(secret, body, skew):
    assert verify(secret, body, sign(secret, body, T), T + skew) == T


@given(body=st.binary(min_size=1, max_size=200), index=st.integers(min_value=0), flip=st.integers(1, 255))
def test_a_tampered_body_is_refused(body, index, flip):
    header = sign(SECRET, body, T)
    position = index % len(body)
    tampered = body[:position] + bytes([body[position] ^ flip]) + body[position + 1:]
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(SECRET, tampered, header, T)


def test_another_secret_is_refused():
    with pytest.raises(SignatureRefused):
        verify(new_secret(), b"{}", sign(SECRET, b"{}", T), T)


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_an_old_or_future_timestamp_is_refused(age):
    header = sign(SECRET, b"{}", T)
    with pytest.raises(SignatureRefused, match="from now"):
        verify(SECRET, b"{}", header, T + age)


def test_a_replayed_signature_with_a_new_timestamp_is_refused():
    """An attacker who saw a delivery cannot make it fresh: the timestamp is in the signed string."""
    v1 = sign(SECRET, b"{}", T).split(",")[1]
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(SECRET, b"{}", f"t={T + 3600},{v1}", T + 3600)


@pytest.mark.parametrize("header", [None, "", "v1=abc", f"t={T}", "t=abc,v1=00", "garbage"])
def test_malformed_headers_are_refused(header):
    with pytest.raises(SignatureRefused):
        verify(SECRET, b"{}", header, T)


def test_secrets_are_long_and_unguessable():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50 and all(s.startswith("whsec_") and len(s) >= 40 for s in secrets)
