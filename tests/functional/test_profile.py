"""PATCH /v1/members/{member_id}: profile, e-mail and consent through EnrollFunction (issue 12, item 3)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from tests.conftest import LambdaContext, call, http_event, load_function
from tests.functional.helpers import ADMIN, MEMBER, POS, enroll, table_items, view
from tests.functional.test_back_office import block, find, round_trips
from tests.functional.test_concurrency import THREADS, moto_server  # noqa: F401 - the fixture
from tests.jobs.test_events import stream_records



@pytest.fixture(autouse=True)
def _tables(request):
    """In-process moto tables, except for the race, which runs against moto in server mode."""
    if "moto_server" not in request.fixturenames:
        request.getfixturevalue("tables")


def patch(member_id: str, body=None, scopes: str = POS, sub: str | None = "terminal-1", instance: int = 0,
          env: dict | None = None, raw_body: str | None = None, verified_email: str | None = None):
    event = http_event("PATCH", f"/v1/members/{member_id}", body=body, scopes=scopes, sub=sub, raw_body=raw_body,
                       verified_email=verified_email)
    return call("enroll", event, instance, **(env or {}))


def consents(member_id: str) -> list[tuple[bool, str]]:
    """The member's consent records, oldest first, as (marketing_opt_in, by)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.query(TableName="LedgerTable", KeyConditionExpression="member_id = :m AND begins_with(entry_key, :c)",
                         ExpressionAttributeValues={":m": {"S": member_id}, ":c": {"S": "consent#"}})["Items"]
    return [(item["marketing_opt_in"]["BOOL"], item["by"]["S"]) for item in items]


def email_markers() -> dict[str, str]:
    """Every EMAIL# marker: its key and the member it points at."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.scan(TableName="MembersTable")["Items"]
    return {item["pk"]["S"]: item["member_id"]["S"] for item in items if item["pk"]["S"].startswith("EMAIL#")}


def test_a_member_updates_their_own_profile_and_consent_history_is_kept():
    member_id = enroll(scopes=MEMBER, sub="ann-sub", name="Ann", marketing_opt_in=True)["member_id"]
    assert consents(member_id) == [(True, "member")], "the consent given at enrollment starts the history"
    reply = patch("me", {"name": "Ann B.", "phone": "+34 600 000 000", "marketing_opt_in": False, "unknown": 1},
                  scopes=MEMBER, sub="ann-sub")
    assert reply.status == 200, reply.body
    assert (reply["member_id"], reply["name"], reply["phone"], reply["marketing_opt_in"]) == (
        member_id, "Ann B.", "+34 600 000 000", False)
    assert reply.body == view(member_id).body, "the answer is the member view"
    assert patch(member_id, {"marketing_opt_in": True}, scopes=ADMIN, sub="admin-7").status == 200
    assert consents(member_id) == [(True, "member"), (False, "member"), (True, "admin-7")]


def test_null_clears_name_and_phone():
    member_id = enroll(name="Ann", phone="+34 600 000 000")["member_id"]
    reply = patch(member_id, {"name": None, "phone": None})
    assert reply.status == 200 and reply["name"] is None and reply["phone"] is None


def test_staff_change_the_email_and_the_uniqueness_marker_moves_with_it():
    member_id = enroll("ann@example.com")["member_id"]
    reply = patch(member_id, {"email": "Ann.New@Example.com"})
    assert reply.status == 200 and reply["email"] == "ann.new@example.com"
    assert find("ANN.NEW@example.com")["items"][0]["member_id"] == member_id
    assert find("ann@example.com")["items"] == [], "the old e-mail is free"
    assert list(email_markers().values()) == [member_id], "one marker: the old one was deleted"
    assert enroll("ann@example.com").status == 201, "and may enroll again"
    assert enroll("ann.new@example.com")["code"] == "ALREADY_ENROLLED"


def test_the_same_email_in_another_case_changes_nothing():
    member_id = enroll("ann@example.com")["member_id"]
    before = table_items()
    reply = patch(member_id, {"email": "ANN@Example.COM"})
    assert reply.status == 200 and reply["email"] == "ann@example.com"
    assert table_items() == before


def test_a_request_that_changes_nothing_writes_nothing():
    member_id = enroll(name="Ann", marketing_opt_in=True)["member_id"]
    before = table_items()
    assert patch(member_id, {"name": "Ann", "marketing_opt_in": True}).status == 200
    assert table_items() == before


@pytest.mark.parametrize(("scopes", "sub", "details"), [
    (POS, "terminal-1", True), (ADMIN, "admin-1", True), (MEMBER, "bob-sub", False)])
def test_an_email_another_member_holds_is_refused_and_writes_nothing(scopes, sub, details):
    ann = enroll("ann@example.com")["member_id"]
    bob = enroll("bob@example.com", scopes=MEMBER, sub="bob-sub")["member_id"]
    before = table_items()
    # a member token reaches the uniqueness check only with the e-mail proved (its account verified it too)
    reply = patch(bob, {"email": "ANN@example.com", "name": "Bob"}, scopes=scopes, sub=sub,
                  verified_email="ann@example.com" if scopes == MEMBER else None)
    assert (reply.status, reply["code"]) == (409, "ALREADY_ENROLLED")
    assert reply.body.get("details") == ({"member_id": ann} if details else None), "only staff learn who holds it"
    assert table_items() == before


def test_a_member_sets_their_birthday_once_and_staff_may_correct_it():
    member_id = enroll(scopes=MEMBER, sub="ann-sub")["member_id"]
    assert patch("me", {"birthday": "1990-05-01"}, scopes=MEMBER, sub="ann-sub")["birthday"] == "1990-05-01"
    assert patch("me", {"birthday": "1990-05-01"}, scopes=MEMBER, sub="ann-sub").status == 200, "the same date is no change"
    before = table_items()
    for body in ({"birthday": "1991-05-01", "name": "Ann"}, {"birthday": None}):
        refused = patch("me", body, scopes=MEMBER, sub="ann-sub")
        assert (refused.status, refused["code"]) == (409, "BIRTHDAY_ALREADY_SET"), refused.body
    assert table_items() == before
    assert patch(member_id, {"birthday": "1991-05-01"})["birthday"] == "1991-05-01"
    assert patch(member_id, {"birthday": None}, scopes=ADMIN, sub="admin-1")["birthday"] is None


@pytest.mark.parametrize("body", [
    {}, {"unknown": "only"}, {"email": None}, {"marketing_opt_in": None}, {"marketing_opt_in": "yes"},
    {"marketing_opt_in": 1}, {"email": "not-an-email"}, {"name": ""}, {"name": "x" * 201}, {"name": "tab\there"},
    {"phone": "call me"}, {"birthday": "1800-01-01"}, {"birthday": "2999-01-01"}, {"birthday": 19900501},
    {"birthday": "1990-13-01"},
])
def test_bad_input_is_refused_and_writes_nothing(body):
    member_id = enroll(name="Ann")["member_id"]
    before = table_items()
    reply = patch(member_id, body)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR"), reply.body
    assert table_items() == before


def test_malformed_json_or_a_body_that_is_no_object_is_a_400_writing_nothing():
    member_id = enroll()["member_id"]
    before = table_items()
    for raw_body in ('{"name": ', "[]", '"text"'):
        assert patch(member_id, raw_body=raw_body)["code"] == "MALFORMED_JSON"
    assert table_items() == before


def test_a_member_token_may_change_only_its_own_member():
    ann = enroll("ann@example.com", scopes=MEMBER, sub="ann-sub")["member_id"]
    enroll("bob@example.com", scopes=MEMBER, sub="bob-sub")
    before = table_items()
    reply = patch(ann, {"name": "Mallory"}, scopes=MEMBER, sub="bob-sub")
    assert (reply.status, reply["code"]) == (404, "MEMBER_NOT_FOUND")
    assert patch("me", {"name": "Nobody"}, scopes=MEMBER, sub="not-enrolled")["code"] == "MEMBER_NOT_FOUND"
    assert patch("me", {"name": "Terminal"})["code"] == "MEMBER_NOT_FOUND", '"me" is a member token\'s'
    assert patch("m00000000000000000000", {"name": "X"}).status == 404
    assert patch(ann, {"name": "X"}, scopes="loyalty/other")["code"] == "FORBIDDEN"
    assert table_items() == before


def test_a_blocked_member_may_still_update_their_profile():
    member_id = enroll(scopes=MEMBER, sub="ann-sub")["member_id"]
    block(member_id, reason="fraud")
    reply = patch("me", {"name": "Ann"}, scopes=MEMBER, sub="ann-sub")
    assert reply.status == 200 and reply["status"] == "blocked" and reply["name"] == "Ann"


def test_an_update_makes_two_round_trips_and_no_change_one():
    member_id = enroll("ann@example.com")["member_id"]
    requests = round_trips("enroll", 911)
    assert patch(member_id, {"email": "new@example.com", "marketing_opt_in": True, "name": "A"}, instance=911).status == 200
    assert requests == ["GetItem", "TransactWriteItems"]
    requests.clear()
    assert patch(member_id, {"name": "A"}, instance=911).status == 200
    assert requests == ["GetItem"]


def test_member_updated_names_the_fields_changed_and_consents_announce_nothing(tmp_path):
    member_id = enroll("ann@example.com", name="Ann")["member_id"]
    patch(member_id, {"name": "Ann B.", "email": "ann.b@example.com", "marketing_opt_in": True, "phone": "+34 600 000 000"})
    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    for table in ("MembersTable", "LedgerTable"):
        publisher.lambda_handler({"Records": stream_records(table)}, LambdaContext(function_name="publish_events"))
    published = [json.loads(line) for line in sink.read_text().splitlines()]
    assert sorted(event["detail-type"] for event in published) == ["MemberEnrolled", "MemberUpdated"], \
        "the consent records (at enrollment and now) are no ledger entries: they announce nothing"
    updated = published[-1]["detail"] if published[-1]["detail-type"] == "MemberUpdated" else published[0]["detail"]
    assert updated["member_id"] == member_id and updated["at"].endswith("Z")
    assert sorted(updated["fields"]) == ["email", "marketing_opt_in", "name", "phone"]
    assert "ann" not in json.dumps(updated).lower() and "600" not in json.dumps(updated), "field names only"


def test_members_racing_to_one_new_email_leave_one_winner_and_consistent_markers(moto_server):  # noqa: F811
    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server}
    members = [enroll(f"racer{index}@example.com", env=env)["member_id"] for index in range(THREADS)]

    def change(index: int):
        return patch(members[index], {"email": "Prize@Example.com"}, instance=500 + index, env=env)

    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(change, range(THREADS)))
    winners = [index for index, reply in enumerate(replies) if reply.status == 200]
    assert len(winners) == 1, [(reply.status, reply.body) for reply in replies]
    assert all(reply["code"] in ("ALREADY_ENROLLED", "TRY_AGAIN") for reply in replies if reply.status != 200)
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server)
    items = client.scan(TableName="MembersTable")["Items"]
    emails = {item["member_id"]["S"]: item["email"]["S"] for item in items if item["pk"]["S"].startswith("M#")}
    markers = [item["member_id"]["S"] for item in items if item["pk"]["S"].startswith("EMAIL#")]
    assert sorted(markers) == sorted(members), "one marker per member: none doubled, none lost"
    assert emails[members[winners[0]]] == "prize@example.com"
    assert sorted(emails.values()) == sorted(
        ["prize@example.com"] + [f"racer{index}@example.com" for index in range(THREADS) if index != winners[0]])
    # every marker points at the member holding that e-mail (the keys are HMACs: found through the lookup)
    for member_id, email in emails.items():
        found = find_with(env, email)
        assert [item["member_id"] for item in found["items"]] == [member_id]
    assert find_with(env, "racer%d@example.com" % winners[0])["items"] == [], "the winner's old e-mail is free"


def find_with(env: dict, email: str):
    return call("report", http_event("GET", "/v1/members", query={"email": email}), **env)
