"""An e-mail as it is sent, and who sends it: Amazon SES v2 (`SendEmail`, a simple message with its headers, through
the configuration set, whose account-level suppression list drops bounced and complained addresses), or whatever the
runtime provides instead (`Platform.mail_sender`: the local runtime's outbox). A sender is a callable
`(Email) -> message id` that raises `SendRefused` for a refusal that will not change (never retried) and anything
else for a failure worth trying again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Email:
    sender: str  # the From address (the configured SES identity)
    to: str
    subject: str
    text: str
    html: str
    headers: tuple[tuple[str, str], ...] = ()
    configuration_set: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # kind, category: for the configuration set's event destinations

    def ses_request(self, identity_arn: str | None = None) -> dict[str, Any]:
        """The SES v2 SendEmail request for this message (the outbox keeps it too: exactly what would be sent)."""
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [self.to]},
            "Content": {"Simple": {
                "Subject": {"Data": self.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": self.text, "Charset": "UTF-8"}, "Html": {"Data": self.html, "Charset": "UTF-8"}},
                **({"Headers": [{"Name": name, "Value": value} for name, value in self.headers]} if self.headers else {}),
            }},
            "EmailTags": [{"Name": name, "Value": value} for name, value in sorted(self.tags.items())],
        }
        if identity_arn:
            request["FromEmailAddressIdentityArn"] = identity_arn
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return request


MailSender = Callable[[Email], str]


class SendRefused(Exception):
    """The provider refused the message for good (a rejected message, an unverified sender): not retried."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


# SES v2's errors that trying again would not change; throttling, limits and 5xx are tried again by the queue.
PERMANENT = {"MessageRejected", "MailFromDomainNotVerifiedException", "AccountSuspendedException",
             "SendingPausedException", "BadRequestException", "NotFoundException"}


class SesMailer:
    def __init__(self, client, identity_arn: str | None = None) -> None:
        self.client, self.identity_arn = client, identity_arn

    def __call__(self, email: Email) -> str:
        from botocore.exceptions import ClientError

        try:
            return self.client.send_email(**email.ses_request(self.identity_arn))["MessageId"]
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in PERMANENT:
                raise SendRefused(code, error.response["Error"].get("Message", "")) from error
            raise
