"""The ledger's events add up to the member's points: for any run of purchases (some pending), partial returns and
redemptions ended by an erasure, what the events issued less what they took back, spent and forfeited is at every
step the member's balance plus pending points, and nothing once erased. That is what the analytics store's
liability sums, so it holds there too. Plain values: entries stored as the ledger stores them, then read as the
stream and a replay read them (loyalty.events.from_ledger_item)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings, strategies as st

from loyalty import events
from loyalty.domain import earning, errors, ledger, membership, redeeming
from loyalty.domain.model import Purchase
from loyalty.store import keys
from loyalty.store.models import EntryModel
from loyalty.store.records import entry_to_record
from tests.unit.test_rules import NOW, member, program

PENDING = program(earn={"points_per_unit": 1, "unit_minor": 100, "pending_days": 7})
# what each ledger event does to the outstanding points (liability.sql's sign for it)
SIGN = {"PointsEarned": 1, "PointsRedeemed": -1, "PurchaseReturned": -1, "PointsForfeited": -1}

steps = st.lists(st.one_of(
    st.tuples(st.just("earn"), st.integers(100, 20_000)),
    st.tuples(st.just("return"), st.integers(0, 50), st.integers(1, 100)),  # which purchase, share of what is left (%)
    st.tuples(st.just("redeem"), st.integers(1, 100)),  # share of the balance (%)
    st.tuples(st.just("wait"), st.integers(1, 10)),  # days
), max_size=12)


def published(entry) -> list[events.DomainEvent]:
    item = entry_to_record(entry, EntryModel)
    return events.from_ledger_item({**item.serialize(), "member_id": {"S": entry.member_id},
                                    "entry_key": {"S": keys.entry_key(entry.ref)}})


@settings(max_examples=150, deadline=None)
@given(steps)
def test_the_ledger_events_net_to_the_balance_and_pending_points_and_to_nothing_once_erased(plan):
    m, now, purchases, outstanding, ids = member(), NOW, [], 0, set()

    def apply(change) -> None:
        nonlocal m, outstanding
        for entry in change.entries:
            for event in published(entry):
                outstanding += SIGN.get(event.detail_type, 0) * event.detail["points"]
                assert event.detail["event_id"] not in ids
                ids.add(event.detail["event_id"])
        m = change.member

    for n, step in enumerate(plan):
        if step[0] == "earn":
            change = earning.earn(m, PENDING, Purchase(f"t{n}", step[1], "EUR"), now, request_hash="h")
            apply(change)
            purchases.append(change.entry)
        elif step[0] == "return" and purchases:
            index = step[1] % len(purchases)
            purchase = purchases[index]
            left = purchase.amount_minor - purchase.refunded_minor
            if left:
                change, purchases[index] = earning.return_purchase(
                    m, purchase, return_id=f"r{n}", amount_minor=max(1, left * step[2] // 100), now=now,
                    request_hash="h", program=PENDING)
                apply(change)
        elif step[0] == "redeem":
            settled = ledger.settle(m, PENDING, now)
            balance = (settled.member if settled else m).balance
            if balance * step[1] // 100:
                try:
                    apply(redeeming.redeem(m, PENDING, now, idempotency_key=f"k{n}", request_hash="h",
                                           points=balance * step[1] // 100))
                except errors.DomainError:  # a discount's own minimum, say: nothing written
                    pass
        elif step[0] == "wait":
            now += timedelta(days=step[1])
        assert outstanding == m.balance + ledger.points_pending(m)
    apply(membership.erase(m, now + timedelta(hours=1)))
    assert outstanding == 0 == m.balance + ledger.points_pending(m)
