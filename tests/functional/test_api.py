"""Each handler called with API Gateway events, against moto tables made from template.yaml."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from loyalty.domain.calendar import add_months, end_of_month, month_key

from tests.conftest import call, http_event
from tests.functional.helpers import (
    ADMIN, MEMBER, activity, earn, enroll, ledger_sum, redeem, return_points, table_items, view,
)

pytestmark = pytest.mark.usefixtures("tables")


def assert_balance_is_ledger(member_id: str) -> int:
    balance = view(member_id)["points_balance"]
    assert balance == ledger_sum(member_id) and balance >= 0
    return balance


# ------------------------------------------------------------------ enroll


def test_enroll_returns_the_member_with_welcome_bonus_and_referral_code():
    reply = enroll(name="Ann", channel="web", birthday="1990-05-01", marketing_opt_in=True)
    assert reply.status == 201
    assert reply["tier"] == "Bronze" and reply["points_balance"] == 50 and len(reply["referral_code"]) == 8
    member = view(reply["member_id"])
    assert member.status == 200 and member["channel"] == "web" and member["birthday"] == "1990-05-01"
    assert activity(reply["member_id"])["items"][0]["type"] == "bonus"


def test_email_is_unique_case_insensitively():
    assert enroll("Ann@Example.com").status == 201
    again = enroll(" ann@EXAMPLE.com ")
    assert again.status == 409 and again["code"] == "ALREADY_ENROLLED"


def test_a_member_token_enrolls_itself_once_and_reaches_its_member_as_me():
    first = enroll("me@example.com", scopes=MEMBER, sub="user-1")
    assert first.status == 201
    second = enroll("other@example.com", scopes=MEMBER, sub="user-1")
    assert second.status == 409 and second["code"] == "ALREADY_ENROLLED"
    me = view("me", scopes=MEMBER, sub="user-1")
    assert me.status == 200 and me["member_id"] == first["member_id"] and me["channel"] == "app"


def test_unknown_referral_code_is_rejected_and_nothing_written():
    before = table_items()
    reply = enroll(referral_code="NOPE2345")
    assert reply.status == 422 and reply["code"] == "INVALID_REFERRAL_CODE"
    assert table_items() == before


def test_referral_bonus_goes_to_both_on_the_first_purchase_once():
    referrer = enroll("ref@example.com")
    referee = enroll("new@example.com", referral_code=referrer["referral_code"].lower())
    assert referee.status == 201 and referee["points_balance"] == 50
    assert earn(referee["member_id"], "p1", 1000).status == 201
    assert earn(referee["member_id"], "p2", 1000).status == 201
    assert view(referee["member_id"])["points_balance"] == 50 + 10 + 100 + 10
    assert view(referrer["member_id"])["points_balance"] == 50 + 100
    for member_id in (referrer["member_id"], referee["member_id"]):
        assert_balance_is_ledger(member_id)


# ------------------------------------------------------------------ earn


def test_earn_credits_and_a_replay_answers_the_original_without_a_second_credit():
    member_id = enroll()["member_id"]
    first = earn(member_id, "pos-1:0042", 2599, store_id="s1", channel="store")
    assert first.status == 201
    expires = add_months(month_key(datetime.now(timezone.utc)), 12)  # lots expire 12 months on (program.json)
    assert re.fullmatch(r"e_[0-9a-f]{20}", first["entry_id"])
    assert first.body == {
        "entry_id": first["entry_id"], "transaction_id": "pos-1:0042", "points": 25, "balance": 75,
        "tier": "Bronze", "tier_changed": False, "expires_at": end_of_month(expires).isoformat().replace("+00:00", "Z"),
        "available_at": None, "base_points": 25, "program_version": 1, "breakdown": [{"source": "base", "campaign_id": None, "points": 25, "program_version": 1}], "limited": [],
    }
    replay = earn(member_id, "pos-1:0042", 2599, store_id="s1", channel="store")
    assert replay.status == 200 and replay.body == first.body
    assert assert_balance_is_ledger(member_id) == 75


def test_same_transaction_id_with_another_amount_is_a_conflict():
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 1000)
    reused = earn(member_id, "t-1", 2000)
    assert reused.status == 409 and reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert assert_balance_is_ledger(member_id) == 60


def test_members_cannot_credit_themselves():
    member_id = enroll("me@example.com", scopes=MEMBER, sub="user-1")["member_id"]
    for target in (member_id, "me"):
        reply = earn(target, "t-1", 1000, scopes=MEMBER, sub="user-1")
        assert reply.status == 403 and reply["code"] == "FORBIDDEN"
    assert view(member_id)["points_balance"] == 50


def test_earn_for_an_unknown_member_is_404_and_writes_nothing():
    before = table_items()
    reply = earn("m00000000000000000000", "t-1", 1000)
    assert reply.status == 404 and reply["code"] == "MEMBER_NOT_FOUND"
    assert table_items() == before


def test_tier_upgrade_at_earn_time_is_reported():
    member_id = enroll()["member_id"]
    reply = earn(member_id, "big", 50_000)  # 500 qualifying points: Silver
    assert reply["tier"] == "Silver" and reply["tier_changed"] is True
    progress = view(member_id)["tier_progress"]
    assert progress == {"qualifying_points": 500, "window_months": 12, "next_tier": "Gold", "points_to_next_tier": 1000}


# ------------------------------------------------------------------ returns


def test_returns_take_back_a_proportional_share_idempotently():
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 10_000)
    half = return_points(member_id, "t-1", "r-1", 5_000)
    assert half.status == 201 and half["points"] == -50 and half["points_unrecovered"] == 0 and half["balance"] == 100
    again = return_points(member_id, "t-1", "r-1", 5_000)
    assert again.status == 200 and again.body == half.body
    reused = return_points(member_id, "t-1", "r-1", 4_000)
    assert reused.status == 409 and reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    too_much = return_points(member_id, "t-1", "r-2", 5_001)
    assert too_much.status == 422 and too_much["code"] == "REFUND_EXCEEDS_PURCHASE"
    unknown = return_points(member_id, "t-404", "r-3", 100)
    assert unknown.status == 404 and unknown["code"] == "TRANSACTION_NOT_FOUND"
    assert assert_balance_is_ledger(member_id) == 100


def test_a_return_after_spending_records_the_unrecovered_points():
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 20_000)  # 200 points, balance 250
    assert redeem(member_id, "k-1", points=240).status == 201
    back = return_points(member_id, "t-1", "r-1", 20_000)
    assert back["points"] == -10 and back["points_unrecovered"] == 190 and back["balance"] == 0
    entry = activity(member_id)["items"][0]
    assert entry["type"] == "return" and entry["points_unrecovered"] == 190
    assert assert_balance_is_ledger(member_id) == 0


# ------------------------------------------------------------------ redeem


def test_redeem_a_reward_and_replay_it():
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 15_000)  # balance 200
    reply = redeem(member_id, "key-1", reward_id="coffee-any-size")
    assert reply.status == 201
    assert reply["points"] == 150 and reply["balance"] == 50 and reply["value_minor"] == 450 and reply["reward_id"] == "coffee-any-size"
    assert len(reply["voucher_code"]) == 10
    replay = redeem(member_id, "key-1", reward_id="coffee-any-size")
    assert replay.status == 200 and replay.body == reply.body
    reused = redeem(member_id, "key-1", reward_id="pastry")
    assert reused.status == 409 and reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert assert_balance_is_ledger(member_id) == 50


def test_redeem_points_for_a_discount():
    member_id = enroll()["member_id"]
    reply = redeem(member_id, "key-1", points=30)
    assert reply.status == 201 and reply["reward_id"] is None and reply["value_minor"] == 60 and reply["balance"] == 20


def test_redeem_more_than_the_balance_is_refused_and_writes_nothing():
    member_id = enroll()["member_id"]
    before = table_items()
    reply = redeem(member_id, "key-1", points=51)
    assert reply.status == 422 and reply["code"] == "INSUFFICIENT_POINTS"
    assert table_items() == before


def test_tier_restricted_and_unknown_rewards():
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 100_000)  # Silver, 1000 qualifying
    gold_only = redeem(member_id, "k-1", reward_id="beans-bag")
    assert gold_only.status == 422 and gold_only["code"] == "TIER_TOO_LOW"
    unknown = redeem(member_id, "k-2", reward_id="no-such-reward")
    assert unknown.status == 404 and unknown["code"] == "REWARD_NOT_FOUND"


def test_limited_stock_runs_out():
    from loyalty.store.models import bind_rewards

    RewardModel = bind_rewards("CatalogTable", "us-east-1")
    RewardModel("REWARD", "beans-bag").update(actions=[RewardModel.stock.set(1)])
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 200_000)  # Gold
    assert redeem(member_id, "k-1", reward_id="beans-bag").status == 201
    sold_out = redeem(member_id, "k-2", reward_id="beans-bag")
    assert sold_out.status == 409 and sold_out["code"] == "OUT_OF_STOCK"
    assert RewardModel.get("REWARD", "beans-bag").stock == 0


def test_members_redeem_only_their_own_points():
    mine = enroll("me@example.com", scopes=MEMBER, sub="user-1")["member_id"]
    theirs = enroll("them@example.com")["member_id"]
    assert redeem("me", "k-1", scopes=MEMBER, sub="user-1", points=10).status == 201
    assert redeem(mine, "k-2", scopes=MEMBER, sub="user-1", points=10).status == 201
    stolen = redeem(theirs, "k-3", scopes=MEMBER, sub="user-1", points=10)
    assert stolen.status == 404 and stolen["code"] == "MEMBER_NOT_FOUND"
    assert view(theirs)["points_balance"] == 50 and view(mine)["points_balance"] == 30


# ------------------------------------------------------------------ reads


def test_member_view_shows_expiry_and_lifetime_figures():
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 10_000)
    redeem(member_id, "k-1", points=20)
    member = view(member_id)
    assert member["points_balance"] == 130 and member["lifetime_points"] == 150 and member["points_redeemed"] == 20
    assert member["next_expiry"]["points"] == 130 and member["next_expiry"]["expires_at"].endswith("T23:59:59Z")
    assert member["points_value_minor"] == 260


def test_members_see_only_themselves():
    enroll("me@example.com", scopes=MEMBER, sub="user-1")
    other = enroll("them@example.com")["member_id"]
    for reply in (view(other, scopes=MEMBER, sub="user-1"), activity(other, scopes=MEMBER, sub="user-1")):
        assert reply.status == 404 and reply["code"] == "MEMBER_NOT_FOUND"
    assert view(other, scopes=ADMIN, sub="admin").status == 200
    not_enrolled = view("me", scopes=MEMBER, sub="user-2")
    assert not_enrolled.status == 404
    staff_me = view("me")
    assert staff_me.status == 404


def test_activity_pages_newest_first_with_an_opaque_cursor():
    member_id = enroll()["member_id"]
    for index in range(5):
        earn(member_id, f"t-{index}", 1000 + index * 100)
    first = activity(member_id, limit="4")
    assert [item["transaction_id"] for item in first["items"]] == ["t-4", "t-3", "t-2", "t-1"]
    assert [item["balance_after"] for item in first["items"]] == [50 + 10 + 11 + 12 + 13 + 14, 50 + 10 + 11 + 12 + 13, 50 + 10 + 11 + 12, 50 + 10 + 11]
    second = activity(member_id, limit="4", cursor=first["next_cursor"])
    assert [item["type"] for item in second["items"]] == ["earn", "bonus"] and second["next_cursor"] is None
    forged = activity(member_id, cursor="bm90LWEtY3Vyc29y")
    assert forged.status == 400 and forged["code"] == "INVALID_CURSOR"
    other = enroll("b@example.com")["member_id"]
    crossed = activity(other, cursor=first["next_cursor"])
    assert crossed.status == 400


def test_program_and_rewards_are_published():
    program = call("report", http_event("GET", "/v1/program", scopes=MEMBER, sub="u"))
    assert program.status == 200
    assert {"currency", "earn", "tiers", "qualifying_window_months", "expiry", "bonuses", "point_value_minor"} <= set(program.body)
    rewards = call("redeem", http_event("GET", "/v1/rewards", scopes=MEMBER, sub="u"))
    by_id = {item["reward_id"]: item for item in rewards["items"]}
    assert by_id["coffee-any-size"]["available"] is True
    assert by_id["beans-bag"]["available"] is False  # a Bronze caller cannot have a Gold reward
    page = call("redeem", http_event("GET", "/v1/rewards", query={"limit": "2"}))
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = call("redeem", http_event("GET", "/v1/rewards", query={"limit": "10", "cursor": page["next_cursor"]}))
    assert len(rest["items"]) == len(by_id) - 2 and rest["next_cursor"] is None


def test_a_token_without_a_loyalty_scope_is_forbidden():
    reply = call("report", http_event("GET", "/v1/program", scopes="openid email", sub="u"))
    assert reply.status == 403 and reply["code"] == "FORBIDDEN"


# ------------------------------------------------------------------ bad input


def _earn_body(**overrides):
    body = {"transaction_id": "t-1", "amount_minor": 1000, "currency": "EUR"}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


BAD_REQUESTS = [
    ("malformed json", "earn", "POST", "/v1/members/{id}/earn", {"raw_body": "{\"amount_minor\": "}, 400, "MALFORMED_JSON"),
    ("body not an object", "earn", "POST", "/v1/members/{id}/earn", {"body": [1, 2]}, 400, "MALFORMED_JSON"),
    ("amount as string", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(amount_minor="1000")}, 422, "VALIDATION_ERROR"),
    ("amount as fraction", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(amount_minor=10.5)}, 422, "VALIDATION_ERROR"),
    ("amount as float", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(amount_minor=1000.0)}, 422, "VALIDATION_ERROR"),
    ("amount as boolean", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(amount_minor=True)}, 422, "VALIDATION_ERROR"),
    ("negative amount", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(amount_minor=-5)}, 422, "VALIDATION_ERROR"),
    ("zero amount", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(amount_minor=0)}, 422, "VALIDATION_ERROR"),
    ("absurd amount", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(amount_minor=10**15)}, 422, "VALIDATION_ERROR"),
    ("missing amount", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(amount_minor=...)}, 422, "VALIDATION_ERROR"),
    ("overlong transaction id", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(transaction_id="x" * 129)}, 422, "VALIDATION_ERROR"),
    ("odd transaction id", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(transaction_id="a b#c")}, 422, "VALIDATION_ERROR"),
    ("lower-case currency", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(currency="eur")}, 422, "VALIDATION_ERROR"),
    ("other currency", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(currency="USD")}, 422, "CURRENCY_MISMATCH"),
    ("naive occurred_at", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(occurred_at="2026-11-23T10:00:00")}, 422, "VALIDATION_ERROR"),
    ("future occurred_at", "earn", "POST", "/v1/members/{id}/earn", {"body": _earn_body(occurred_at="2099-01-01T00:00:00Z")}, 422, "OCCURRED_AT_OUT_OF_RANGE"),
    ("odd member id", "earn", "POST", "/v1/members/a%20b/earn", {"body": _earn_body()}, 422, "VALIDATION_ERROR"),
    ("overlong member id", "earn", "POST", "/v1/members/" + "m" * 65 + "/earn", {"body": _earn_body()}, 422, "VALIDATION_ERROR"),
    ("refund as string", "earn", "POST", "/v1/members/{id}/returns", {"body": {"transaction_id": "t", "return_id": "r", "amount_minor": "5"}}, 422, "VALIDATION_ERROR"),
    ("missing idempotency key", "redeem", "POST", "/v1/members/{id}/redemptions", {"body": {"points": 10}}, 422, "VALIDATION_ERROR"),
    ("overlong idempotency key", "redeem", "POST", "/v1/members/{id}/redemptions", {"body": {"points": 10}, "headers": {"Idempotency-Key": "k" * 129}}, 422, "VALIDATION_ERROR"),
    ("both reward and points", "redeem", "POST", "/v1/members/{id}/redemptions", {"body": {"points": 10, "reward_id": "pastry"}, "headers": {"Idempotency-Key": "k"}}, 422, "VALIDATION_ERROR"),
    ("neither reward nor points", "redeem", "POST", "/v1/members/{id}/redemptions", {"body": {}, "headers": {"Idempotency-Key": "k"}}, 422, "VALIDATION_ERROR"),
    ("points as string", "redeem", "POST", "/v1/members/{id}/redemptions", {"body": {"points": "10"}, "headers": {"Idempotency-Key": "k"}}, 422, "VALIDATION_ERROR"),
    ("zero points", "redeem", "POST", "/v1/members/{id}/redemptions", {"body": {"points": 0}, "headers": {"Idempotency-Key": "k"}}, 422, "VALIDATION_ERROR"),
    ("bad email", "enroll", "POST", "/v1/members", {"body": {"email": "not-an-email"}}, 422, "VALIDATION_ERROR"),
    ("bad channel", "enroll", "POST", "/v1/members", {"body": {"email": "x@example.com", "channel": "fax"}}, 422, "VALIDATION_ERROR"),
    ("opt-in as string", "enroll", "POST", "/v1/members", {"body": {"email": "x@example.com", "marketing_opt_in": "yes"}}, 422, "VALIDATION_ERROR"),
    ("birthday as number", "enroll", "POST", "/v1/members", {"body": {"email": "x@example.com", "birthday": 19900101}}, 422, "VALIDATION_ERROR"),
    ("future birthday", "enroll", "POST", "/v1/members", {"body": {"email": "x@example.com", "birthday": "2999-01-01"}}, 422, "VALIDATION_ERROR"),
    ("activity limit too large", "report", "GET", "/v1/members/{id}/activity", {"query": {"limit": "101"}}, 422, "VALIDATION_ERROR"),
]


@pytest.mark.parametrize(("function", "method", "path", "request_parts", "status", "code"), [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS])
def test_bad_input_gets_a_documented_4xx_and_writes_nothing(function, method, path, request_parts, status, code):
    member_id = enroll("owner@example.com")["member_id"]
    before = table_items()
    reply = call(function, http_event(method, path.replace("{id}", member_id), **request_parts))
    assert (reply.status, reply["code"]) == (status, code), reply.body
    assert reply["message"]
    if code == "VALIDATION_ERROR":
        assert reply["errors"] and all({"field", "message"} <= set(error) for error in reply["errors"])
    assert table_items() == before


def test_unknown_fields_are_ignored():
    member_id = enroll(favourite_colour="green")["member_id"]
    assert earn(member_id, "t-1", 1000, loyalty_hack=True).status == 201
