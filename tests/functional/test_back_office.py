"""Back office through the handlers: adjustments, blocking, lookup by e-mail (issue 12, items 2, 3 and 4)."""

from __future__ import annotations

import pytest

from loyalty.core.programs import Programs
from tests.conftest import call, http_event, load_function
from tests.functional.helpers import (
    ADMIN, MEMBER, POS, activity, earn, enroll, ledger_sum, redeem, return_points, table_items, view,
)

pytestmark = pytest.mark.usefixtures("tables")


def adjust(member_id: str, key: str | None, scopes: str = ADMIN, sub: str | None = "admin-1", instance: int = 0,
           env: dict | None = None, **body):
    headers = {"Idempotency-Key": key} if key is not None else None
    event = http_event("POST", f"/v1/members/{member_id}/adjustments", body=body, scopes=scopes, sub=sub, headers=headers)
    return call("earn", event, instance, **(env or {}))


def block(member_id: str, scopes: str = ADMIN, sub: str | None = "admin-1", **body):
    return call("enroll", http_event("POST", f"/v1/members/{member_id}/block", body=body, scopes=scopes, sub=sub))


def unblock(member_id: str, scopes: str = ADMIN, sub: str | None = "admin-1"):
    return call("enroll", http_event("POST", f"/v1/members/{member_id}/unblock", scopes=scopes, sub=sub))


def find(email: str, scopes: str = POS, sub: str | None = "terminal-1", instance: int = 0):
    return call("report", http_event("GET", "/v1/members", query={"email": email}, scopes=scopes, sub=sub), instance)


def report(day: str):
    return call("report", http_event("GET", "/v1/reports/program", query={"from": day, "to": day}, scopes=ADMIN))


def balance_is_ledger(member_id: str) -> int:
    balance = view(member_id)["points_balance"]
    assert balance == ledger_sum(member_id) and balance >= 0
    return balance


def round_trips(function: str, instance: int) -> list[str]:
    """DynamoDB requests a warm handler copy makes, through the store's request hook (its program versions already
    cached, as a warm instance has them: one Query a minute, not one per request)."""
    requests: list[str] = []
    parts = load_function(function, instance).parts()
    for part in vars(parts).values():
        programs = part if isinstance(part, Programs) else getattr(part, "programs", None)
        if isinstance(programs, Programs):
            programs.history()
    parts.store.on_request(lambda operation, params: requests.append(operation))
    return requests


# ------------------------------------------------------------------ adjustments


def test_a_credit_is_recorded_with_reason_and_actor_and_replayed_forever():
    member_id = enroll()["member_id"]  # 50 welcome points
    first = adjust(member_id, "ticket-1", points=30, reason="goodwill: late delivery")
    assert first.status == 201, first.body
    assert first["points"] == 30 and first["balance"] == 80 and first["reason"] == "goodwill: late delivery"
    assert first["expires_at"].endswith("T23:59:59Z"), "credited points expire like points earned now"
    again = adjust(member_id, "ticket-1", points=30, reason="goodwill: late delivery")
    assert (again.status, again.body) == (200, first.body)
    assert balance_is_ledger(member_id) == 80
    entry = activity(member_id)["items"][0]
    assert (entry["type"], entry["points"], entry["reason"], entry["actor"]) == ("adjust", 30, "goodwill: late delivery", "admin-1")


def test_the_same_key_with_another_request_is_refused_and_writes_nothing():
    member_id = enroll()["member_id"]
    adjust(member_id, "ticket-2", points=30, reason="goodwill")
    before = table_items()
    for body in ({"points": 31, "reason": "goodwill"}, {"points": 30, "reason": "other"}):
        reply = adjust(member_id, "ticket-2", **body)
        assert (reply.status, reply["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert table_items() == before


def test_the_actor_is_the_client_id_when_the_token_has_no_subject():
    member_id = enroll()["member_id"]
    assert adjust(member_id, "ticket-3", sub=None, points=5, reason="fix").status == 201
    assert activity(member_id)["items"][0]["actor"] == "client"


def test_a_debit_takes_the_soonest_expiring_points_and_never_more_than_the_balance():
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 10_000)  # 100 more
    before = table_items()
    refused = adjust(member_id, "too-much", points=-151, reason="duplicate account")
    assert (refused.status, refused["code"], refused["details"]) == (422, "INSUFFICIENT_POINTS", {"balance": 150, "needed": 151})
    assert table_items() == before
    debit = adjust(member_id, "dup", points=-150, reason="duplicate account")
    assert debit.status == 201 and debit["balance"] == 0 and debit["expires_at"] is None
    assert view(member_id)["next_expiry"] is None, "every lot was taken"
    assert balance_is_ledger(member_id) == 0


def test_credits_count_as_issued_and_debits_as_debited_in_the_report():
    member_id = enroll()["member_id"]
    day = view(member_id)["enrolled_at"][:10]
    before = report(day).body
    adjust(member_id, "credit", points=40, reason="goodwill")
    adjust(member_id, "debit", points=-15, reason="correction")
    after = report(day).body
    assert after["points_issued"] - before["points_issued"] == 40
    assert after["points_debited"] - before["points_debited"] == 15
    assert after["points_redeemed"] == before["points_redeemed"] and after["points_expired"] == before["points_expired"]
    assert after["outstanding_points"] - before["outstanding_points"] == 25
    assert after["daily"][0]["points_debited"] == after["points_debited"]


@pytest.mark.parametrize(("scopes", "sub"), [(POS, "terminal-1"), (MEMBER, "ann-sub")])
def test_only_admin_may_adjust(scopes, sub):
    member_id = enroll(scopes=MEMBER, sub="ann-sub")["member_id"]
    before = table_items()
    reply = adjust(member_id, "k", scopes=scopes, sub=sub, points=10, reason="please")
    assert (reply.status, reply["code"]) == (403, "FORBIDDEN")
    assert table_items() == before


@pytest.mark.parametrize(("key", "body"), [
    (None, {"points": 10, "reason": "no key"}),
    ("bad key!", {"points": 10, "reason": "odd key"}),
    ("k", {"points": 0, "reason": "nothing"}),
    ("k", {"points": "10", "reason": "a string"}),
    ("k", {"points": 10}),
    ("k", {"points": 10, "reason": ""}),
    ("k", {"points": 10, "reason": "x" * 501}),
    ("k", {"points": 10, "reason": "line\nbreak"}),
    ("k", {"points": 10, "reason": "nul\u0000"}),
    ("k", {"points": 2_000_000_000, "reason": "too many"}),
])
def test_bad_adjustments_are_refused_and_write_nothing(key, body):
    member_id = enroll()["member_id"]
    before = table_items()
    reply = adjust(member_id, key, **body)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR"), reply.body
    assert table_items() == before


def test_adjusting_an_unknown_member_is_404():
    reply = adjust("m00000000000000000000", "k", points=10, reason="who")
    assert (reply.status, reply["code"]) == (404, "MEMBER_NOT_FOUND")


def test_an_adjustment_makes_two_round_trips_and_a_replay_one():
    member_id = enroll()["member_id"]
    requests = round_trips("earn", 901)
    assert adjust(member_id, "rt", instance=901, points=10, reason="count").status == 201
    assert requests == ["TransactGetItems", "TransactWriteItems"]
    requests.clear()
    assert adjust(member_id, "rt", instance=901, points=10, reason="count").status == 200
    assert requests == ["TransactGetItems"]


# ------------------------------------------------------------------ blocking


def test_a_blocked_member_cannot_earn_redeem_or_be_credited_but_can_be_read_and_debited():
    member_id = enroll(scopes=MEMBER, sub="ann-sub")["member_id"]
    earn(member_id, "before", 10_000)
    blocked = block(member_id, reason="chargeback fraud")
    assert blocked.status == 200 and blocked["status"] == "blocked" and blocked["member_id"] == member_id
    before = table_items()
    refusals = [
        earn(member_id, "t-2", 1_000),
        redeem(member_id, "r-1", points=10),
        redeem("me", "r-2", scopes=MEMBER, sub="ann-sub", points=10),
        adjust(member_id, "credit", points=10, reason="goodwill"),
    ]
    assert [(reply.status, reply["code"]) for reply in refusals] == [(403, "MEMBER_BLOCKED")] * 4
    assert table_items() == before, "refusals write nothing"
    assert earn(member_id, "before", 10_000).status == 200, "a replay of what was done before still answers"
    assert view(member_id)["status"] == "blocked" and view("me", scopes=MEMBER, sub="ann-sub")["status"] == "blocked"
    assert activity(member_id).status == 200
    assert return_points(member_id, "before", "ret-1", 5_000).status == 201, "refunds still take points back"
    assert adjust(member_id, "debit", points=-10, reason="fraud recovery").status == 201
    assert balance_is_ledger(member_id) == 90


def test_blocking_and_unblocking_are_idempotent():
    member_id = enroll()["member_id"]
    assert view(member_id)["status"] == "active"
    assert block(member_id, reason="fraud").status == 200
    before = table_items()
    again = block(member_id, reason="another reason")
    assert (again.status, again["status"]) == (200, "blocked")
    assert table_items() == before, "blocking a blocked member writes nothing"
    unblocked = unblock(member_id)
    assert (unblocked.status, unblocked["status"]) == (200, "active")
    before = table_items()
    assert unblock(member_id)["status"] == "active" and table_items() == before
    assert earn(member_id, "after", 1_000).status == 201


@pytest.mark.parametrize(("scopes", "sub"), [(POS, "terminal-1"), (MEMBER, "ann-sub")])
def test_only_admin_may_block_or_unblock(scopes, sub):
    member_id = enroll(scopes=MEMBER, sub="ann-sub")["member_id"]
    before = table_items()
    for reply in (block(member_id, scopes=scopes, sub=sub, reason="nope"), unblock(member_id, scopes=scopes, sub=sub)):
        assert (reply.status, reply["code"]) == (403, "FORBIDDEN")
    assert table_items() == before


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "tab\there"}, {"reason": 5}])
def test_a_block_needs_a_plain_reason_and_writes_nothing_without_one(body):
    member_id = enroll()["member_id"]
    before = table_items()
    reply = block(member_id, **body)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR")
    assert table_items() == before


def test_blocking_an_unknown_member_is_404():
    assert block("m00000000000000000000", reason="x").status == 404
    assert unblock("m00000000000000000000").status == 404


def test_blocking_makes_two_round_trips_and_repeating_it_one():
    member_id = enroll()["member_id"]
    requests = round_trips("enroll", 902)
    call("enroll", http_event("POST", f"/v1/members/{member_id}/block", body={"reason": "r"}, scopes=ADMIN), 902)
    assert requests == ["GetItem", "TransactWriteItems"]
    requests.clear()
    call("enroll", http_event("POST", f"/v1/members/{member_id}/block", body={"reason": "r"}, scopes=ADMIN), 902)
    assert requests == ["GetItem"]


# ------------------------------------------------------------------ lookup by e-mail


@pytest.mark.parametrize("scopes", [POS, ADMIN])
def test_staff_find_a_member_by_email_in_any_case(scopes):
    member_id = enroll("Mixed.Case@Example.com", name="Ann")["member_id"]
    for email in ("mixed.case@example.com", "MIXED.CASE@EXAMPLE.COM", "Mixed.Case@Example.com"):
        reply = find(email, scopes=scopes)
        assert reply.status == 200 and reply["next_cursor"] is None
        assert [item["member_id"] for item in reply["items"]] == [member_id]
    assert reply["items"][0] == view(member_id).body


def test_an_unknown_email_finds_nothing():
    enroll()
    assert find("nobody@example.com").body == {"items": [], "next_cursor": None}


def test_a_member_token_may_not_look_up_emails():
    enroll(scopes=MEMBER, sub="ann-sub")
    reply = find("ann@example.com", scopes=MEMBER, sub="ann-sub")
    assert (reply.status, reply["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize("email", ["not-an-email", "", "a b@example.com", "x" * 300 + "@example.com"])
def test_a_malformed_email_is_a_validation_error(email):
    reply = find(email)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR")


def test_a_lookup_makes_two_round_trips_and_a_miss_one():
    member_id = enroll()["member_id"]
    requests = round_trips("report", 903)
    assert find("ann@example.com", instance=903)["items"][0]["member_id"] == member_id
    assert requests == ["GetItem", "GetItem"]
    requests.clear()
    assert find("other@example.com", instance=903)["items"] == []
    assert requests == ["GetItem"]


def test_a_blocked_member_is_found_with_its_status():
    member_id = enroll()["member_id"]
    block(member_id, reason="fraud")
    assert find("ann@example.com")["items"][0]["status"] == "blocked"


# ------------------------------------------------------------------ ALREADY_ENROLLED names the member to staff only


@pytest.mark.parametrize("scopes", [POS, ADMIN])
def test_already_enrolled_names_the_member_to_staff(scopes):
    member_id = enroll("ann@example.com")["member_id"]
    reply = enroll("ANN@example.com", scopes=scopes)
    assert (reply.status, reply["code"], reply["details"]) == (409, "ALREADY_ENROLLED", {"member_id": member_id})


def test_already_enrolled_never_names_the_member_to_a_member_token():
    enroll("ann@example.com", scopes=POS)
    reply = enroll("ann@example.com", scopes=MEMBER, sub="someone-else")
    assert (reply.status, reply["code"]) == (409, "ALREADY_ENROLLED") and "details" not in reply.body
    enroll("bob@example.com", scopes=MEMBER, sub="bob-sub")
    again = enroll("bob@example.com", scopes=MEMBER, sub="bob-sub")
    assert again.status == 409 and "details" not in again.body, "not even their own id"



def test_a_token_naming_neither_subject_nor_client_may_not_act_and_writes_nothing():
    member_id = enroll()["member_id"]
    before = table_items()
    for path, body, headers in (("adjustments", {"points": 5, "reason": "who?"}, {"Idempotency-Key": "anon"}),
                                ("block", {"reason": "who?"}, None)):
        event = http_event("POST", f"/v1/members/{member_id}/{path}", body=body, scopes=ADMIN, sub=None, headers=headers)
        del event["requestContext"]["authorizer"]["jwt"]["claims"]["client_id"]
        reply = call("earn" if path == "adjustments" else "enroll", event)
        assert (reply.status, reply["code"]) == (403, "FORBIDDEN"), reply.body
    assert table_items() == before


def test_a_blocked_referrer_gets_no_referral_bonus_and_the_new_member_still_does():
    referrer = enroll("ref@example.com")
    referee = enroll("new@example.com", referral_code=referrer["referral_code"])
    block(referrer["member_id"], reason="referral fraud")
    assert earn(referee["member_id"], "p1", 1000).status == 201
    assert view(referee["member_id"])["points_balance"] == 50 + 10 + 100
    assert view(referrer["member_id"])["points_balance"] == 50
    assert balance_is_ledger(referrer["member_id"]) == 50 and balance_is_ledger(referee["member_id"]) == 160
