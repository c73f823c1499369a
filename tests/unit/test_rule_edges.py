"""Edges of the ledger rules that mutation testing found unpinned: exact boundaries and every recorded field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loyalty.domain import earning, errors, ledger, redeeming
from loyalty.domain.model import Purchase
from tests.unit.test_rules import NOW, PROGRAM, assert_consistent, earn, member, program


def test_base_points_use_points_per_unit_and_unit_minor_rounded_down():
    rich = program(earn={"points_per_unit": 3, "unit_minor": 100})
    assert earning.purchase_points(rich, 250, "Bronze") == (7, 7)  # 250 * 3 // 100
    assert earning.purchase_points(rich, 99, "Bronze") == (2, 2)
    assert earning.purchase_points(rich, 33, "Bronze") == (0, 0)
    # The tier multiplier applies to the base and rounds down: 7 * 1.5 = 10.5 -> 10.
    assert earning.purchase_points(rich, 250, "Silver") == (7, 10)
    assert earning.purchase_points(rich, 250, "Gold") == (7, 14)


def test_a_redemption_may_spend_exactly_the_whole_balance_and_not_one_point_more():
    m = earn(member(), 10_000).member  # 100 points
    assert m.balance == 100
    spent = redeeming.redeem(m, PROGRAM, NOW, idempotency_key="k1", request_hash="h", points=100)
    assert spent.member.balance == 0 and spent.entry.points == -100
    with pytest.raises(errors.InsufficientPoints) as refused:
        redeeming.redeem(m, PROGRAM, NOW, idempotency_key="k2", request_hash="h", points=101)
    assert refused.value.details == {"balance": 100, "needed": 101}


def test_redeemed_and_returned_points_accumulate_on_the_member():
    first = earn(member(), 10_000)
    m = first.member
    m = redeeming.redeem(m, PROGRAM, NOW, idempotency_key="k1", request_hash="h", points=10).member
    m = redeeming.redeem(m, PROGRAM, NOW, idempotency_key="k2", request_hash="h", points=15).member
    assert m.points_redeemed == 25
    change, purchase = earning.return_purchase(m, first.entry, return_id="r1", amount_minor=1_000, now=NOW, request_hash="h")
    change, _ = earning.return_purchase(change.member, purchase, return_id="r2", amount_minor=1_000, now=NOW, request_hash="h")
    assert change.member.points_returned == 20


def test_the_earn_entry_records_the_purchase_as_reported():
    at = NOW - timedelta(hours=3)
    purchase = Purchase("t-9", 1_234, "EUR", occurred_at=at, store_id="store-7", channel="store")
    change = earning.earn(member(), PROGRAM, purchase, NOW, request_hash="h")
    entry = change.entry
    assert (entry.transaction_id, entry.amount_minor, entry.currency) == ("t-9", 1_234, "EUR")
    assert (entry.store_id, entry.channel, entry.occurred_at, entry.created_at) == ("store-7", "store", at, NOW)
    assert (entry.points, entry.qualifying_points, entry.refunded_minor, entry.points_reversed) == (12, 12, 0, 0)


def test_occurred_at_is_accepted_up_to_its_bounds_and_refused_past_them():
    ok_future = NOW + ledger.MAX_CLOCK_SKEW
    ok_past = NOW - ledger.MAX_PURCHASE_AGE
    assert earn(member(), 1_000, occurred_at=ok_future).entry.occurred_at == ok_future
    assert earn(member(), 1_000, occurred_at=ok_past).entry.occurred_at == ok_past
    for outside in (ok_future + timedelta(seconds=1), ok_past - timedelta(seconds=1)):
        with pytest.raises(errors.OccurredAtOutOfRange):
            earn(member(), 1_000, occurred_at=outside)


def test_a_return_records_itself_and_takes_back_qualifying_points_in_proportion():
    first = earn(member(), 10_000, txid="t-1")  # 100 points, 100 qualifying
    m = first.member
    month = next(iter(m.qualifying))
    change, purchase = earning.return_purchase(m, first.entry, return_id="r-1", amount_minor=2_500, now=NOW, request_hash="h")
    entry = change.entry
    assert (entry.type, entry.transaction_id, entry.return_id, entry.amount_minor) == ("return", "t-1", "r-1", 2_500)
    assert (entry.points, entry.points_unrecovered) == (-25, 0)
    assert change.member.qualifying[month] == 75
    assert (purchase.refunded_minor, purchase.points_reversed, purchase.qualifying_reversed) == (2_500, 25, 25)
    assert_consistent(change.member, [first.entry, entry])
