"""An unsubscribe rewrites the member's job schedule with the program version in force, not the layer's file."""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest

from loyalty.messages.unsubscribe import UnsubscribeTokens
from tests.conftest import PROGRAM, TEST_UNSUBSCRIBE_KEY, call, http_event
from tests.functional.helpers import ADMIN, earn, enroll
from tests.functional.test_program_versions import FRESH, document
from tests.messages.test_routes import unsubscribe_event

pytestmark = pytest.mark.usefixtures("tables")


def next_due(member_id: str) -> datetime:
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="MembersTable", Key={"pk": {"S": f"M#{member_id}"}})["Item"]
    return datetime.fromisoformat(item["next_due"]["S"].replace("Z", "+00:00"))


def test_unsubscribing_schedules_the_expiry_reminder_by_the_reminder_days_in_force():
    member_id = enroll("rem@example.com", marketing_opt_in=True, env=FRESH).body["member_id"]
    assert earn(member_id, "t-1", 1000, env=FRESH).status == 201
    reminded_before = next_due(member_id)  # the file's reminder_days, the version in force at the earn
    shorter = PROGRAM.reminder_days - 23
    published = call("program", http_event("POST", "/v1/program/versions", body=document(reminder_days=shorter),
                                           scopes=ADMIN, sub="admin-ann"), **FRESH)
    assert published.status == 201, published.body
    token = UnsubscribeTokens(TEST_UNSUBSCRIBE_KEY).token(member_id)
    assert call("messages", unsubscribe_event(token=token, body="List-Unsubscribe=One-Click",
                                              content_type="application/x-www-form-urlencoded"), **FRESH).status == 200
    # The reminder comes 23 days later than the file's rules would have it: reminder_days of the version in force.
    assert (next_due(member_id) - reminded_before).days == 23
