"""Cancelling a redemption whose voucher is unused (RedeemFunction; issue 12, item 5)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone

import boto3
import pytest

from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from tests.conftest import LambdaContext, call, http_event, load_function
from tests.functional.helpers import (
    ADMIN, MEMBER, POS, activity, admin_catalog, earn, enroll, ledger_sum, list_rewards, redeem, table_items, view,
)
from tests.functional.test_back_office import block, report, round_trips
from tests.functional.test_concurrency import THREADS, moto_server  # noqa: F401 - the fixture
from tests.functional.test_vouchers import check, use
from tests.jobs.test_events import stream_records

TEA = {"reward_id": "tea", "name": "Tea", "description": "Any tea.", "kind": "free_item", "points": 10, "value_minor": 300,
       "stock": 3, "per_member_limit": 1}
STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))


def cancel(member_id: str, redemption_id: str, scopes: str = POS, sub: str | None = "terminal-1", instance: int = 0,
           env: dict | None = None):
    event = http_event("POST", f"/v1/members/{member_id}/redemptions/{redemption_id}/cancel", scopes=scopes, sub=sub)
    return call("redeem", event, instance, **(env or {}))


def tea_stock() -> int:
    return next(reward for reward in admin_rewards() if reward["reward_id"] == "tea")["stock"]


def admin_rewards() -> list[dict]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.query(TableName="CatalogTable", KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": "REWARD"}})["Items"]
    return [{"reward_id": item["sk"]["S"], "stock": int(item["stock"]["N"]) if "stock" in item else None} for item in items]


@pytest.mark.usefixtures("tables")
class TestCancel:
    def member_with_tea(self, sub: str | None = None) -> tuple[str, dict]:
        assert admin_catalog("POST", "/v1/rewards", TEA).status == 201
        member_id = enroll(scopes=MEMBER, sub=sub)["member_id"] if sub else enroll()["member_id"]  # 50 welcome points
        redemption = redeem(member_id, "k-1", reward_id="tea")
        assert redemption.status == 201, redemption.body
        return member_id, redemption.body

    def test_a_cancel_gives_points_stock_and_the_reward_limit_back_and_cancels_the_voucher(self):
        member_id, redemption = self.member_with_tea()
        assert tea_stock() == 2 and redeem(member_id, "k-2", reward_id="tea")["code"] == "REWARD_LIMIT_REACHED"
        reply = cancel(member_id, redemption["redemption_id"])
        assert reply.status == 200, reply.body
        assert {key: reply[key] for key in ("redemption_id", "reward_id", "voucher_code", "points", "points_forfeited",
                                            "balance")} == {
            "redemption_id": redemption["redemption_id"], "reward_id": "tea", "voucher_code": redemption["voucher_code"],
            "points": 10, "points_forfeited": 0, "balance": 50}
        assert view(member_id)["points_balance"] == 50 == ledger_sum(member_id)
        assert view(member_id)["points_redeemed"] == 0
        assert tea_stock() == 3
        assert check(redemption["voucher_code"])["status"] == "cancelled"
        assert use(redemption["voucher_code"])["code"] == "VOUCHER_CANCELLED"
        entry = activity(member_id)["items"][0]
        assert (entry["type"], entry["points"], entry["redemption_id"], entry["reward_id"], entry["entry_id"]) == (
            "cancel", 10, redemption["redemption_id"], "tea", reply["entry_id"])
        assert redeem(member_id, "k-3", reward_id="tea").status == 201, "the per-member limit counts it no more"

    def test_a_cancel_again_answers_the_same_and_writes_nothing(self):
        member_id, redemption = self.member_with_tea()
        first = cancel(member_id, redemption["redemption_id"])
        before = table_items()
        again = cancel(member_id, redemption["redemption_id"], scopes=ADMIN, sub="admin-1")
        assert (again.status, again.body) == (200, first.body)
        assert table_items() == before

    def test_a_used_voucher_cannot_be_cancelled_and_nothing_is_written(self):
        member_id, redemption = self.member_with_tea()
        used = use(redemption["voucher_code"], {"store_id": "store-42"})
        before = table_items()
        reply = cancel(member_id, redemption["redemption_id"])
        assert (reply.status, reply["code"], reply["details"]) == (
            409, "VOUCHER_ALREADY_USED", {"used_at": used["used_at"], "store_id": "store-42"})
        assert table_items() == before

    def test_a_points_discount_is_cancelled_too(self):
        member_id = enroll()["member_id"]
        earn(member_id, "t-1", 10_000)
        redemption = redeem(member_id, "k-1", points=120).body
        stock_before = admin_rewards()
        reply = cancel(member_id, redemption["redemption_id"])
        assert (reply.status, reply["points"], reply["balance"], reply["reward_id"]) == (200, 120, 150, None)
        assert check(redemption["voucher_code"])["status"] == "cancelled"
        assert admin_rewards() == stock_before

    def test_a_blocked_member_s_redemption_may_be_cancelled(self):
        member_id, redemption = self.member_with_tea()
        block(member_id, reason="fraud")
        reply = cancel(member_id, redemption["redemption_id"], scopes=ADMIN, sub="admin-1")
        assert reply.status == 200 and reply["balance"] == 50

    @pytest.mark.parametrize(("scopes", "sub"), [(MEMBER, "ann-sub"), ("loyalty/other", "x")])
    def test_only_pos_and_admin_may_cancel(self, scopes, sub):
        member_id, redemption = self.member_with_tea(sub="ann-sub")
        before = table_items()
        for target in (member_id, "me"):
            reply = cancel(target, redemption["redemption_id"], scopes=scopes, sub=sub)
            assert (reply.status, reply["code"]) == (403, "FORBIDDEN")
        assert table_items() == before

    def test_unknown_redemptions_members_and_another_member_s_redemption_are_404(self):
        member_id, redemption = self.member_with_tea()
        other = enroll("other@example.com")["member_id"]
        before = table_items()
        assert cancel(other, redemption["redemption_id"])["code"] == "REDEMPTION_NOT_FOUND"
        assert cancel(member_id, "e_00000000000000000000")["code"] == "REDEMPTION_NOT_FOUND"
        assert cancel("m00000000000000000000", redemption["redemption_id"])["code"] == "MEMBER_NOT_FOUND"
        for bad in ("bad!id", "x" * 65):
            assert cancel(member_id, bad)["code"] == "VALIDATION_ERROR"
        assert table_items() == before

    def test_a_cancel_makes_two_round_trips_and_its_replay_one(self):
        member_id, redemption = self.member_with_tea()
        requests = round_trips("redeem", 921)
        assert cancel(member_id, redemption["redemption_id"], instance=921).status == 200
        assert requests == ["TransactGetItems", "TransactWriteItems"]
        requests.clear()
        assert cancel(member_id, redemption["redemption_id"], instance=921).status == 200
        assert requests == ["TransactGetItems"]

    def test_reports_count_the_cancel_as_redeemed_no_more_on_its_day(self):
        member_id, redemption = self.member_with_tea()
        day = view(member_id)["enrolled_at"][:10]
        before = report(day).body
        cancel(member_id, redemption["redemption_id"])
        after = report(day).body
        assert before["points_redeemed"] - after["points_redeemed"] == 10
        assert after["outstanding_points"] - before["outstanding_points"] == 10
        assert after["points_expired"] == before["points_expired"] and after["points_issued"] == before["points_issued"]

    def test_the_catalog_shows_the_stock_back(self):
        member_id, redemption = self.member_with_tea()
        cancel(member_id, redemption["redemption_id"])
        assert next(item for item in list_rewards()["items"] if item["reward_id"] == "tea")["available"] is True

    def test_redemption_cancelled_is_announced_with_the_redemption(self, tmp_path):
        member_id, redemption = self.member_with_tea()
        cancel(member_id, redemption["redemption_id"])
        sink = tmp_path / "events.jsonl"
        publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
        publisher.lambda_handler({"Records": stream_records("LedgerTable")}, LambdaContext(function_name="publish_events"))
        published = [json.loads(line) for line in sink.read_text().splitlines()]
        cancelled = [event["detail"] for event in published if event["detail-type"] == "RedemptionCancelled"]
        assert len(cancelled) == 1
        assert {key: cancelled[0][key] for key in ("member_id", "redemption_id", "reward_id", "points", "voucher_code",
                                                   "points_forfeited", "balance")} == {
            "member_id": member_id, "redemption_id": redemption["redemption_id"], "reward_id": "tea", "points": 10,
            "voucher_code": redemption["voucher_code"], "points_forfeited": 0, "balance": 50}


def test_points_from_lots_expired_since_are_forfeited_not_revived(loyalty):
    """Spent from two lots; the first expires before the cancel: only the second's points come back."""
    loyalty.clock.at = datetime(2025, 11, 10, tzinfo=timezone.utc)
    member_id = loyalty.enroll(STAFF, email="lots@example.com", channel="store").member_id  # 50, lot 2026-11
    loyalty.clock.at = datetime(2025, 12, 5, tzinfo=timezone.utc)
    loyalty.earn(STAFF, member_id, Purchase("t1", 10_000, "EUR"), payload={"t": 1})  # 100, lot 2026-12
    spent = loyalty.redeem(STAFF, member_id, idempotency_key="k", payload={"p": 120}, points=120).entry
    assert spent.lots_consumed == {"2026-11": 50, "2026-12": 70}
    loyalty.clock.at = datetime(2026, 12, 2, tzinfo=timezone.utc)  # the lot of 2026-11 has expired
    cancelled = loyalty.cancel_redemption(STAFF, member_id, spent.entry_id).entry
    assert (cancelled.points, cancelled.points_forfeited, cancelled.balance_after) == (70, 50, 100)
    member = loyalty.store.get_member(member_id)
    assert member.lots == {"2026-12": 100} and member.balance == 100 == ledger_sum(member_id)
    assert (member.points_redeemed, member.points_expired) == (0, 50)
    figures = loyalty.program_report(date(2026, 12, 2), date(2026, 12, 2))
    assert (figures.total("points_redeemed"), figures.total("points_expired")) == (-120, 50), \
        "the cancel's day: redeemed back down by the whole redemption, the forfeited points counted as expired"
    assert figures.outstanding_points == 100


def test_a_cancel_racing_voucher_use_lets_exactly_one_win(moto_server):  # noqa: F811
    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server}
    for round_ in range(THREADS // 2):
        member_id = enroll(f"race{round_}@example.com", env=env)["member_id"]
        earn(member_id, "t-1", 10_000, env=env)
        redemption = redeem(member_id, "k-1", reward_id="pastry", env=env).body
        with ThreadPoolExecutor(2) as pool:
            cancelled = pool.submit(cancel, member_id, redemption["redemption_id"], instance=300 + round_, env=env)
            used = pool.submit(use, redemption["voucher_code"], {"store_id": "s-1"}, instance=400 + round_, env=env)
            cancel_reply, use_reply = cancelled.result(), used.result()
        outcomes = sorted([(cancel_reply.status, cancel_reply.body.get("code")), (use_reply.status, use_reply.body.get("code"))])
        assert outcomes in ([(200, None), (409, "VOUCHER_ALREADY_USED")], [(200, None), (409, "VOUCHER_CANCELLED")]), outcomes
        balance = view(member_id, env=env)["points_balance"]
        voucher = call("redeem", http_event("GET", f"/v1/vouchers/{redemption['voucher_code']}"), **env)["status"]
        if cancel_reply.status == 200:
            assert (voucher, balance) == ("cancelled", 150)
        else:
            assert (voucher, balance) == ("used", 30)
