"""The `Loyalty-Signature` header, Stripe-style: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

The timestamp is inside the signed string, so a receiver can refuse an old delivery replayed at it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Loyalty-Signature"
TOLERANCE_SECONDS = 300  # what `verify` accepts by default between the signature's time and the receiver's
SECRET_PREFIX = "whsec_"


class SignatureRefused(Exception):
    """The header is missing or malformed, the signature does not match, or its time is too far from now."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header's value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, body: bytes, header: str | None, now: int, tolerance: int = TOLERANCE_SECONDS) -> int:
    """What a receiver does: the header's timestamp if one of its v1 signatures matches `body` and the timestamp is
    within `tolerance` seconds of `now`; else SignatureRefused."""
    if not header:
        raise SignatureRefused("no signature header")
    timestamp, signatures = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureRefused("malformed signature header")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureRefused("signature does not match the body")
    if abs(now - timestamp) > tolerance:
        raise SignatureRefused(f"signature time {timestamp} is more than {tolerance} s from now")
    return timestamp
