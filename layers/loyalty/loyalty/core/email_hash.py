"""The keyed hash (HMAC) of e-mails used as their uniqueness key."""

from __future__ import annotations

import hashlib
import hmac
from functools import cached_property

from loyalty.settings import EmailHashSettings


class EmailHasher:
    """The key is an SSM SecureString (read once, on first use, so only the calls that hash an e-mail pay for it)
    or, locally and in tests, given directly."""

    def __init__(self, key: str | None = None, parameter_name: str | None = None, region: str | None = None) -> None:
        if (key is None) == (parameter_name is None):
            raise ValueError("give the key or the name of the parameter that holds it")
        self._key, self._parameter_name, self._region = key, parameter_name, region

    @classmethod
    def from_settings(cls, settings: EmailHashSettings) -> EmailHasher:
        return cls(settings.email_hash_key, settings.email_hash_key_parameter, settings.aws_region)

    @cached_property
    def key(self) -> bytes:
        if self._key is not None:
            return self._key.encode()
        import boto3  # only the calls that hash an e-mail need these
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        provider = SSMProvider(boto3_client=boto3.client("ssm", region_name=self._region))
        return str(provider.get(self._parameter_name, decrypt=True)).encode()

    def __call__(self, email: str) -> str:
        return hmac.new(self.key, email.strip().lower().encode(), hashlib.sha256).hexdigest()
