"""One-click unsubscribe tokens (RFC 8058): `<member id>.<signature>`, the signature an HMAC-SHA256 of the member id
under the unsubscribe key (an SSM SecureString in AWS, given directly locally and in tests). A token names one member
and cannot be made for another without the key; it does not expire (a link in an old e-mail keeps working)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from functools import cached_property

from loyalty.domain import errors

PURPOSE = b"loyalty-unsubscribe:"
MEMBER_ID = re.compile(r"^m[0-9a-f]{20}$")


class InvalidUnsubscribeToken(errors.DomainError):
    status, code = 400, "INVALID_UNSUBSCRIBE_TOKEN"


class UnsubscribeTokens:
    def __init__(self, key: str | None = None, parameter_name: str | None = None, region: str | None = None) -> None:
        if (key is None) == (parameter_name is None):
            raise ValueError("give the key or the name of the parameter that holds it")
        self._key, self._parameter_name, self._region = key, parameter_name, region

    @cached_property
    def key(self) -> bytes:
        if self._key is not None:
            return self._key.encode()
        import boto3
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        provider = SSMProvider(boto3_client=boto3.client("ssm", region_name=self._region))
        return str(provider.get(self._parameter_name, decrypt=True)).encode()

    def _signature(self, member_id: str) -> str:
        digest = hmac.new(self.key, PURPOSE + member_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def token(self, member_id: str) -> str:
        return f"{member_id}.{self._signature(member_id)}"

    def member_of(self, token: str) -> str:
        """The member a token names; InvalidUnsubscribeToken if it is not one this key signed."""
        member_id, dot, signature = (token or "").partition(".")
        if not dot or not MEMBER_ID.match(member_id) or not hmac.compare_digest(signature.encode(), self._signature(member_id).encode()):
            raise InvalidUnsubscribeToken("this unsubscribe link is not valid")
        return member_id
