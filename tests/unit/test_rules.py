"""The loyalty rules with plain values: no DynamoDB, no HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from loyalty.domain import earning, errors, ledger, membership, redeeming
from loyalty.domain.model import Member, Profile, Purchase, Reward
from loyalty.domain.calendar import add_months, end_of_month, month_key, window
from loyalty.program import Program

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def program(**overrides) -> Program:
    document = {
        "name": "Test",
        "currency": "EUR",
        "earn": {"points_per_unit": 1, "unit_minor": 100},
        "tiers": [
            {"name": "Bronze", "min_qualifying_points": 0, "earn_multiplier": "1"},
            {"name": "Silver", "min_qualifying_points": 100, "earn_multiplier": "1.5"},
            {"name": "Gold", "min_qualifying_points": 300, "earn_multiplier": "2"},
        ],
        "qualifying_window_months": 12,
        "expiry": {"months": 12},
        "bonuses": {"welcome": 50, "referral": 100},
        "point_value_minor": 2,
    }
    document.update(overrides)
    return Program.model_validate(document)


PROGRAM = program()


def member(**fields) -> Member:
    values = dict(member_id="m1", email="a@example.com", enrolled_at=NOW, channel="app", tier="Bronze", referral_code="ABCD2345")
    values.update(fields)
    return Member(**values)


def earn(m: Member, amount: int, txid: str = "t1", **kwargs) -> ledger.Change:
    purchase = Purchase(txid, amount, kwargs.pop("currency", "EUR"), occurred_at=kwargs.pop("occurred_at", None),
                        items=kwargs.pop("items", ()))
    return earning.earn(m, kwargs.pop("program", PROGRAM), purchase, kwargs.pop("now", NOW), request_hash="h", **kwargs)


def assert_consistent(m: Member, entries) -> None:
    assert m.balance == sum(m.lots.values()) >= 0
    assert all(points > 0 for points in m.lots.values())
    assert m.balance == sum(entry.points for entry in entries)
    assert [entry.seq for entry in entries] == list(range(1, len(entries) + 1))


# ------------------------------------------------------------------ months


def test_months_arithmetic_crosses_years():
    assert add_months("2026-11", 12) == "2027-11"
    assert add_months("2026-11", 2) == "2027-01"
    assert add_months("2026-01", -1) == "2025-12"
    assert end_of_month("2027-02") == datetime(2027, 2, 28, 23, 59, 59, tzinfo=timezone.utc)
    assert window(NOW, 3) == {"2026-11", "2026-10", "2026-09"}


# ------------------------------------------------------------------ program


@pytest.mark.parametrize(
    "tiers",
    [
        [{"name": "A", "min_qualifying_points": 10, "earn_multiplier": "1"}],
        [{"name": "A", "min_qualifying_points": 0, "earn_multiplier": "1"}, {"name": "B", "min_qualifying_points": 0, "earn_multiplier": "1"}],
        [{"name": "A", "min_qualifying_points": 0, "earn_multiplier": "1"}, {"name": "A", "min_qualifying_points": 5, "earn_multiplier": "1"}],
        [{"name": "A", "min_qualifying_points": 0, "earn_multiplier": "0.5"}],
    ],
)
def test_program_rejects_incoherent_tiers(tiers):
    with pytest.raises(ValueError):
        program(tiers=tiers)


def test_demo_program_is_valid():
    from loyalty.program import load_program
    from loyalty.settings import DEFAULT_PROGRAM_FILE

    demo = load_program(DEFAULT_PROGRAM_FILE)
    assert demo.base_tier.min_qualifying_points == 0 and len(demo.tiers) >= 3


# ------------------------------------------------------------------ enroll and earn


def test_enroll_credits_welcome_bonus_in_a_lot():
    change = membership.enroll("m1", Profile(" A@Example.com", "app"), PROGRAM, NOW)
    assert change.member.email == "a@example.com"
    m = change.member
    assert m.balance == 50 and m.lots == {"2027-11": 50}
    assert change.entry.type == "bonus" and change.entry.bonus == "welcome" and change.entry.balance_after == 50
    assert len(m.referral_code) == ledger.REFERRAL_CODE_LENGTH


def test_earn_rounds_down_per_purchase_and_applies_tier_multiplier():
    assert earning.purchase_points(PROGRAM, 1299, "Bronze") == (12, 12)
    assert earning.purchase_points(PROGRAM, 99, "Bronze") == (0, 0)
    assert earning.purchase_points(PROGRAM, 1299, "Silver") == (12, 18)
    assert earning.purchase_points(PROGRAM, 1100, "Silver") == (11, 16)  # 16.5 rounds down


def test_earn_puts_points_in_the_lot_expiring_end_of_month_n_months_later():
    change = earn(member(), 2500)
    assert change.member.lots == {"2027-11": 25}
    assert change.entry.expires_at == datetime(2027, 11, 30, 23, 59, 59, tzinfo=timezone.utc)
    assert change.entry.points == 25 and change.entry.balance_after == 25
    assert change.member.qualifying == {"2026-11": 25}


def test_earn_uses_the_purchase_month_when_reported_late():
    late = NOW - timedelta(days=25)
    change = earn(member(), 1000, occurred_at=late)
    assert change.member.lots == {"2027-10": 10} and change.member.qualifying == {"2026-10": 10}


@pytest.mark.parametrize("occurred_at", [NOW + timedelta(hours=1), NOW - timedelta(days=31)])
def test_earn_rejects_purchases_from_the_future_or_too_old(occurred_at):
    with pytest.raises(errors.OccurredAtOutOfRange):
        earn(member(), 1000, occurred_at=occurred_at)


def test_earn_rejects_another_currency():
    with pytest.raises(errors.CurrencyMismatch):
        earn(member(), 1000, currency="USD")


def test_upgrade_happens_at_earn_time_and_the_new_multiplier_applies_next_time():
    first = earn(member(), 10_000)  # 100 qualifying points: Silver
    assert first.member.tier == "Silver" and first.entry.tier_changed and first.entry.points == 100
    second = earn(first.member, 1000, txid="t2")
    assert second.entry.points == 15 and not second.entry.tier_changed


def test_qualifying_points_outside_the_window_do_not_count():
    old = member(qualifying={"2025-10": 500, "2026-11": 20})
    assert ledger.qualifying_points(old, PROGRAM, NOW) == 20
    assert earn(old, 1000).member.tier == "Bronze"


def test_earn_never_downgrades():
    gold = member(tier="Gold")
    assert earn(gold, 100).member.tier == "Gold"


def test_referral_bonus_paid_to_both_on_first_purchase_only():
    referee = member(member_id="m2", referred_by="m1")
    referrer = member(member_id="m1", version=7, balance=10, lots={"2027-01": 10})
    assert earning.referral_due(referee)
    change = earn(referee, 1000, referrer=referrer)
    new_referee, new_referrer = change.members
    assert new_referee.balance == 10 + 100 and new_referee.referral_bonus_paid
    assert new_referrer.balance == 110 and new_referrer.version == 8
    assert {(e.member_id, e.type, e.points) for e in change.entries} == {
        ("m2", "earn", 10), ("m2", "bonus", 100), ("m1", "bonus", 100)
    }
    assert not earning.referral_due(new_referee)
    assert len(earn(new_referee, 1000, txid="t2", referrer=new_referrer).entries) == 1
    assert referrer.balance == 10, "the rules never mutate their inputs"


# ------------------------------------------------------------------ redeem


def test_redeem_spends_soonest_expiring_points_first():
    m = member(balance=60, lots={"2027-03": 20, "2026-12": 30, "2027-11": 10})
    change = redeeming.redeem(m, PROGRAM, NOW, idempotency_key="k", request_hash="h", points=40)
    assert change.member.lots == {"2027-03": 10, "2027-11": 10}
    assert change.entry.lots_consumed == {"2026-12": 30, "2027-03": 10}
    assert change.entry.points == -40 and change.entry.value_minor == 80 and change.member.balance == 20


def test_redeem_refuses_more_than_the_balance():
    with pytest.raises(errors.InsufficientPoints):
        redeeming.redeem(member(balance=10, lots={"2027-01": 10}), PROGRAM, NOW, idempotency_key="k", request_hash="h", points=11)


def test_redeem_checks_tier_and_stock():
    rich = member(balance=1000, lots={"2027-01": 1000})
    gold_only = Reward("gold", "Gold thing", "", "perk", 100, 0, min_tier="Gold")
    with pytest.raises(errors.TierTooLow):
        redeeming.redeem(rich, PROGRAM, NOW, idempotency_key="k", request_hash="h", reward=gold_only)
    change = redeeming.redeem(member(tier="Gold", balance=1000, lots={"2027-01": 1000}), PROGRAM, NOW, idempotency_key="k",
                          request_hash="h", reward=gold_only)
    assert (change.entry.points, change.entry.reward_id, change.member.balance) == (-100, "gold", 900)
    sold_out = Reward("mug", "Mug", "", "free_item", 100, 900, stock=0)
    with pytest.raises(errors.OutOfStock):
        redeeming.redeem(rich, PROGRAM, NOW, idempotency_key="k", request_hash="h", reward=sold_out)


# ------------------------------------------------------------------ returns


def _purchase(amount=10_000):
    change = earn(member(), amount)
    return change.member, change.entry, [change.entry]


def test_partial_returns_add_up_to_exactly_a_full_return():
    m, purchase, entries = _purchase(10_000)  # 100 points
    for index, refund in enumerate([3_333, 3_333, 3_334]):
        change, purchase = earning.return_purchase(m, purchase, return_id=f"r{index}", amount_minor=refund, now=NOW, request_hash="h")
        m = change.member
        entries.append(change.entry)
    assert m.balance == 0 and purchase.points_reversed == 100 and purchase.refunded_minor == 10_000
    assert [e.points for e in entries[1:]] == [-33, -33, -34]
    assert m.qualifying == {"2026-11": 0}
    assert_consistent(m, entries)


def test_return_never_takes_the_balance_below_zero_and_records_the_rest():
    m, purchase, entries = _purchase(10_000)
    spent = redeeming.redeem(m, PROGRAM, NOW, idempotency_key="k", request_hash="h", points=70).member
    change, updated = earning.return_purchase(spent, purchase, return_id="r", amount_minor=10_000, now=NOW, request_hash="h")
    assert change.member.balance == 0
    assert change.entry.points == -30 and change.entry.points_unrecovered == 70
    assert updated.points_reversed == 100  # owed points are not chased on the next return


def test_return_cannot_exceed_the_purchase():
    m, purchase, _ = _purchase(1_000)
    change, purchase = earning.return_purchase(m, purchase, return_id="a", amount_minor=600, now=NOW, request_hash="h")
    with pytest.raises(errors.RefundExceedsPurchase):
        earning.return_purchase(change.member, purchase, return_id="b", amount_minor=401, now=NOW, request_hash="h")


def test_return_takes_from_the_purchase_lot_first():
    m = member()
    m = earn(m, 1_000, txid="old", now=NOW - timedelta(days=200)).member  # lot 2027-05
    change = earn(m, 2_000, txid="new")  # lot 2027-11
    back, _ = earning.return_purchase(change.member, change.entry, return_id="r", amount_minor=2_000, now=NOW, request_hash="h")
    assert back.member.lots == {"2027-05": 10}


# ------------------------------------------------------------------ views


def test_tier_progress_and_expiring_lots():
    m = member(tier="Silver", qualifying={"2026-10": 150}, balance=30, lots={"2026-12": 10, "2027-11": 20})
    progress = ledger.tier_progress(m, PROGRAM, NOW)
    assert (progress.next_tier, progress.points_to_next_tier, progress.qualifying_points) == ("Gold", 150, 150)
    assert ledger.expiring_lots(m, NOW, timedelta(days=60)) == [(end_of_month("2026-12"), 10)]
    top = ledger.tier_progress(member(tier="Gold"), PROGRAM, NOW)
    assert top.next_tier is None and top.points_to_next_tier is None


def test_month_key():
    assert month_key(NOW) == "2026-11"
