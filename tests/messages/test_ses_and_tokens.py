"""The exact SES v2 SendEmail request (botocore Stubber: no traffic), its errors' classification, and one-click
unsubscribe tokens: made for one member, refused when forged, tampered with or made for another."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from loyalty.messages.mail import Email, SendRefused, SesMailer
from loyalty.messages.unsubscribe import InvalidUnsubscribeToken, UnsubscribeTokens

IDENTITY = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
SAM, ALEX = "m0123456789abcdef0123", "m00000000000000000a1e"


def ses():
    return boto3.client("sesv2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


MARKETING = Email(sender="rewards@example.com", to="sam@example.com", subject="Happy birthday, Sam!", text="Happy birthday!\n",
                  html="<p>Happy birthday!</p>", configuration_set="loyalty-prod-messages",
                  headers=(("List-Unsubscribe", "<https://api.example.com/v1/unsubscribe?token=t>"),
                           ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")),
                  tags={"kind": "birthday", "category": "marketing"})


def test_the_send_email_request_is_exactly_this():
    client = ses()
    expected = {
        "FromEmailAddress": "rewards@example.com",
        "FromEmailAddressIdentityArn": IDENTITY,
        "Destination": {"ToAddresses": ["sam@example.com"]},
        "Content": {"Simple": {
            "Subject": {"Data": "Happy birthday, Sam!", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": "Happy birthday!\n", "Charset": "UTF-8"},
                     "Html": {"Data": "<p>Happy birthday!</p>", "Charset": "UTF-8"}},
            "Headers": [{"Name": "List-Unsubscribe", "Value": "<https://api.example.com/v1/unsubscribe?token=t>"},
                        {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"}],
        }},
        "EmailTags": [{"Name": "category", "Value": "marketing"}, {"Name": "kind", "Value": "birthday"}],
        "ConfigurationSetName": "loyalty-prod-messages",
    }
    with Stubber(client) as stub:
        stub.add_response("send_email", {"MessageId": "0100018c-abc"}, expected)
        assert SesMailer(client, IDENTITY)(MARKETING) == "0100018c-abc"
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["MessageRejected", "MailFromDomainNotVerifiedException", "AccountSuspendedException",
                                  "SendingPausedException", "BadRequestException", "NotFoundException"])
def test_a_refusal_that_will_not_change_is_send_refused(code):
    client = ses()
    with Stubber(client) as stub:
        stub.add_client_error("send_email", service_error_code=code, service_message="no", http_status_code=400)
        with pytest.raises(SendRefused) as refused:
            SesMailer(client, IDENTITY)(MARKETING)
    assert refused.value.code == code


@pytest.mark.parametrize("code,status", [("TooManyRequestsException", 429), ("LimitExceededException", 400),
                                         ("InternalFailure", 500)])
def test_throttling_limits_and_outages_are_raised_to_be_tried_again(code, status):
    client = ses()
    with Stubber(client) as stub:
        stub.add_client_error("send_email", service_error_code=code, service_message="later", http_status_code=status)
        with pytest.raises(ClientError) as error:
            SesMailer(client)(MARKETING)
    assert not isinstance(error.value, SendRefused)


KEY = "unsubscribe-test-key-0123456789"


def test_a_token_names_its_member():
    tokens = UnsubscribeTokens(KEY)
    assert tokens.member_of(tokens.token(SAM)) == SAM
    assert tokens.token(SAM) != tokens.token(ALEX)


def test_a_token_for_another_member_or_under_another_key_is_refused():
    tokens = UnsubscribeTokens(KEY)
    _, _, signature = tokens.token(SAM).partition(".")
    for forged in (f"{ALEX}.{signature}", UnsubscribeTokens("another-key-0123456789abcdef").token(SAM), SAM, f"{SAM}.",
                   "", ".", f"{SAM}.{signature}x", f"{SAM.upper()}.{signature}"):
        with pytest.raises(InvalidUnsubscribeToken):
            tokens.member_of(forged)


@given(position=st.integers(min_value=0, max_value=200), replacement=st.characters(codec="ascii"))
def test_any_changed_character_is_refused(position, replacement):
    tokens = UnsubscribeTokens(KEY)
    token = tokens.token(SAM)
    position %= len(token)
    if token[position] == replacement:
        return
    with pytest.raises(InvalidUnsubscribeToken):
        tokens.member_of(token[:position] + replacement + token[position + 1:])
