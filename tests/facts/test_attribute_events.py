"""A PATCH that changes a member's attributes publishes MemberAttributesChanged (names changed, values after);
one that changes none publishes nothing of the kind; the member's export holds the attributes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LambdaContext, call, http_event, load_function
from tests.functional.helpers import ADMIN, enroll
from tests.functional.test_profile import patch
from tests.jobs.test_events import stream_records

pytestmark = pytest.mark.usefixtures("tables")


def _published(sink, seen: dict[str, int]) -> list[dict]:
    """The events the publisher derives from the members table's new stream records (what `make run` does)."""
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    records = stream_records("MembersTable")
    publisher.lambda_handler({"Records": records[seen.get("m", 0):]}, LambdaContext(function_name="publish_events"))
    seen["m"] = len(records)
    lines = [json.loads(line) for line in sink.read_text().splitlines()] if sink.exists() else []
    new, seen["lines"] = lines[seen.get("lines", 0):], len(lines)
    return new


def _kinds(events: list[dict], kind: str) -> list[dict]:
    return [event["detail"] for event in events if event["detail-type"] == kind]


def test_changed_attributes_are_announced_with_their_names_and_values(tmp_path):
    sink, seen = tmp_path / "events.jsonl", {}
    member_id = enroll()["member_id"]
    _published(sink, seen)
    assert patch(member_id, {"attributes": {"store_card": True, "visits": 4}}).status == 200
    [event] = _kinds(_published(sink, seen), "MemberAttributesChanged")
    assert (event["member_id"], event["changed"], event["attributes"]) == (member_id, ["store_card", "visits"],
                                                                          {"store_card": True, "visits": 4})
    assert event["at"]
    assert patch(member_id, {"attributes": {"visits": None, "store_card": 1}}, scopes=ADMIN, sub="a").status == 200
    [event] = _kinds(_published(sink, seen), "MemberAttributesChanged")  # true -> 1 is a change; visits removed
    assert (event["changed"], event["attributes"]) == (["store_card", "visits"], {"store_card": 1})
    assert patch(member_id, {"name": "Ann Other"}).status == 200
    events = _published(sink, seen)
    assert _kinds(events, "MemberUpdated") and not _kinds(events, "MemberAttributesChanged")


def test_the_export_holds_the_attributes():
    member_id = enroll()["member_id"]
    assert patch(member_id, {"attributes": {"home_store": "s-12", "visits": 4}}).status == 200
    export = call("report", http_event("GET", f"/v1/members/{member_id}/export", scopes=ADMIN, sub="a"))
    assert export.status == 200, export.body
    assert export["member"]["attributes"] == {"home_store": "s-12", "visits": 4}
