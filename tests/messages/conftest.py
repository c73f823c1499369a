"""Message use cases on moto (the template's MessagesTable and MembersTable), a FixedClock, and a recording mail
sender that keeps every e-mail as the SES request it would be."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import boto3
import pytest
from moto import mock_aws

from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.messages.mail import Email
from loyalty.messages.store import MessageStore
from loyalty.messages.templates import demo_templates
from loyalty.messages.unsubscribe import UnsubscribeTokens
from loyalty.messages.use_cases import Sending
from loyalty_local.moto_atomic import make_dynamodb_atomic
from loyalty_local.template import create_tables
from tests.conftest import PROGRAM

REGION = "us-east-1"
START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
KEY = "messages-test-unsubscribe-key-0123"
API = "https://api.example.com"


@dataclass
class Outbox:
    sent: list[Email] = field(default_factory=list)
    fail_with: list[Exception] = field(default_factory=list)  # raised, one per call, before anything is sent

    def __call__(self, email: Email) -> str:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(email)
        return f"msg-{len(self.sent)}"


@dataclass
class World:
    sending: Sending
    store: MessageStore
    outbox: Outbox
    clock: FixedClock
    dynamodb: object

    def program(self, **changes) -> None:
        """The sender's program from now on: the demo program with `changes` (e.g. locale, messages)."""
        program = PROGRAM.model_validate({**PROGRAM.model_dump(), **changes})
        self.sending.programs = Programs.fixed(program, self.clock)

    def cap(self, per_week: int) -> None:
        self.program(messages={"marketing_per_week": per_week})

    def member(self, member_id: str, *, email: str | None = "sam@example.com", name: str | None = "Sam",
               opt_in: bool = False, status: str = "active", locale: str | None = None) -> str:
        """A member item as the members table holds one (the fields a message reads)."""
        item = {"pk": {"S": f"M#{member_id}"}, "member_id": {"S": member_id}, "status": {"S": status},
                "marketing_opt_in": {"BOOL": opt_in}, "tier": {"S": "Bronze"}}
        if email:
            item["email"] = {"S": email}
        if name:
            item["name"] = {"S": name}
        if locale:
            item["locale"] = {"S": locale}
        self.dynamodb.put_item(TableName="MembersTable", Item=item)
        return member_id


@pytest.fixture
def world():
    make_dynamodb_atomic()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_tables(dynamodb)
        store = MessageStore(dynamodb, "MessagesTable", "MembersTable")
        clock, outbox = FixedClock(START), Outbox()
        sending = Sending(store=store, clock=clock, send=outbox, tokens=UnsubscribeTokens(KEY), templates=demo_templates(),
                          programs=Programs.fixed(PROGRAM, clock), sender="rewards@example.com", api_url=API,
                          configuration_set="loyalty-test-messages")
        yield World(sending, store, outbox, clock, dynamodb)
