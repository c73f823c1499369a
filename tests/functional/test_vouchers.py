"""Vouchers: every redemption's code is checked and used once at the till (RedeemFunction)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from loyalty import events
from loyalty.domain.access import Caller
from tests.conftest import PROGRAM, call, http_event, make_loyalty
from tests.functional.helpers import ADMIN, MEMBER, POS, earn, enroll, redeem, table_items
from tests.jobs.test_events import stream_records

pytestmark = pytest.mark.usefixtures("tables")


def voucher_of(reward_id: str | None = "pastry", points: int | None = None) -> tuple[str, dict]:
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 10_000)
    body = {"reward_id": reward_id} if reward_id else {"points": points}
    reply = redeem(member_id, "k-1", **body)
    assert reply.status == 201, reply.body
    return member_id, reply.body


def check(code: str, scopes: str = POS):
    return call("redeem", http_event("GET", f"/v1/vouchers/{code}", scopes=scopes))


def use(code: str, body=None, scopes: str = POS, instance: int = 0, env: dict | None = None):
    return call("redeem", http_event("POST", f"/v1/vouchers/{code}/use", body=body, scopes=scopes), instance, **(env or {}))


def test_a_redemption_issues_a_voucher_the_till_checks_and_uses_once():
    member_id, redemption = voucher_of()
    code = redemption["voucher_code"]
    issued = check(code)
    assert issued.status == 200
    assert {key: issued[key] for key in ("voucher_code", "member_id", "redemption_id", "reward_id", "value_minor",
                                         "status", "used_at", "store_id")} == {
        "voucher_code": code, "member_id": member_id, "redemption_id": redemption["redemption_id"], "reward_id": "pastry",
        "value_minor": 350, "status": "issued", "used_at": None, "store_id": None}
    used = use(code, {"store_id": "store-42"})
    assert used.status == 200 and used["status"] == "used" and used["store_id"] == "store-42" and used["used_at"]
    assert check(code, scopes=ADMIN).body == used.body
    before = table_items()
    again = use(code)
    assert again.status == 409 and again["code"] == "VOUCHER_ALREADY_USED" and again["details"] == {"store_id": "store-42", "used_at": used["used_at"]}
    assert table_items() == before


def test_a_discount_has_a_voucher_too_and_the_body_is_optional():
    _, redemption = voucher_of(reward_id=None, points=100)
    used = use(redemption["voucher_code"])
    assert used.status == 200 and used["reward_id"] is None and used["value_minor"] == 100 * PROGRAM.point_value_minor and used["store_id"] is None


def test_unknown_and_malformed_codes_and_member_tokens_are_refused_writing_nothing():
    _, redemption = voucher_of()
    before = table_items()
    for reply in (check("ZZZZZZZZZZ"), use("ZZZZZZZZZZ")):
        assert reply.status == 404 and reply["code"] == "VOUCHER_NOT_FOUND"
    for reply in (check("not-a-code"), use("not a code"), use(redemption["voucher_code"], {"store_id": ""})):
        assert reply.status == 422 and reply["code"] == "VALIDATION_ERROR"
    for reply in (check(redemption["voucher_code"], scopes=MEMBER), use(redemption["voucher_code"], scopes=MEMBER)):
        assert reply.status == 403 and reply["code"] == "FORBIDDEN"
    assert table_items() == before


def test_a_refused_redemption_issues_no_voucher():
    member_id = enroll()["member_id"]
    before = table_items()
    assert redeem(member_id, "k-1", reward_id="barista-class").status == 422
    assert table_items() == before


def test_using_a_voucher_publishes_voucher_used_once():
    _, redemption = voucher_of()
    use(redemption["voucher_code"], {"store_id": "store-7"})
    use(redemption["voucher_code"])  # refused: no second event
    published = [event for event in events.from_stream(stream_records("MembersTable")) if event.detail_type == "VoucherUsed"]
    assert len(published) == 1
    detail = published[0].detail
    assert detail["voucher_code"] == redemption["voucher_code"] and detail["store_id"] == "store-7"
    assert detail["value_minor"] == 350 and detail["used_at"].endswith("Z") and "email" not in detail


def test_voucher_routes_take_at_most_two_round_trips():
    uc = make_loyalty(at=datetime.now(timezone.utc))
    _, redemption = voucher_of()
    code = redemption["voucher_code"]
    operations: list[str] = []
    uc.store.on_request(lambda operation, params: operations.append(operation))
    uc.voucher(code)
    assert operations == ["GetItem"]
    operations.clear()
    uc.use_voucher(code, "store-1")
    assert operations == ["GetItem", "TransactWriteItems"]  # the voucher, then its use checked against its member
    operations.clear()
    with pytest.raises(Exception, match="was used"):
        uc.use_voucher(code, "store-1")
    assert operations == ["GetItem"]  # a used voucher is refused from the read


def test_the_redemption_and_its_voucher_are_written_together():
    uc = make_loyalty(at=datetime.now(timezone.utc))
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 10_000)
    operations: list[str] = []
    uc.catalog.rewards()
    uc.store.on_request(lambda operation, params: operations.append(
        (operation, sorted(next(iter(item.values()))["TableName"] for item in params.get("TransactItems", [])))))
    staff = Caller(sub="terminal-1", scopes=frozenset({POS}))
    outcome = uc.redeem(staff, member_id, idempotency_key="k-1", payload={}, reward_id="pastry")
    written = [tables for operation, tables in operations if operation == "TransactWriteItems"]
    # member, counter, voucher, the redemption under its id (for a cancel)
    assert len(written) == 1 and written[0].count("MembersTable") == 4, written
    assert uc.voucher(outcome.entry.voucher_code).redemption_id == outcome.entry.entry_id


def test_a_blocked_members_vouchers_cannot_be_used_until_unblocked():
    member_id, redemption = voucher_of()
    code = redemption["voucher_code"]
    block = http_event("POST", f"/v1/members/{member_id}/block", body={"reason": "card fraud"}, scopes=ADMIN, sub="admin-1")
    assert call("enroll", block).status == 200
    before = table_items()
    refused = use(code, {"store_id": "store-7"})
    assert (refused.status, refused["code"]) == (403, "MEMBER_BLOCKED"), refused.body
    assert table_items() == before and check(code)["status"] == "issued"
    unblock = http_event("POST", f"/v1/members/{member_id}/unblock", scopes=ADMIN, sub="admin-1")
    assert call("enroll", unblock).status == 200
    assert use(code, {"store_id": "store-7"}).status == 200
