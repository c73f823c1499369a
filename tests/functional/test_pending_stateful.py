"""Random sequences of enroll, earn, redeem, return, adjustment and a clock that moves, through the handlers, on a
program that holds purchase points for 14 days (`earn.pending_days`).

A reference model predicts what each member can spend and what is pending; after each step the touched members
must agree with it and with their ledger: points_balance + points_pending == sum of ledger points, neither negative.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from loyalty.program import Program
from tests.conftest import PROGRAM, call, http_event
from tests.functional.helpers import earn, enroll, ledger_sum, redeem, view
from tests.functional.test_ledger_stateful import MotoMachine

PENDING_DAYS = 14


class PendingLedgerMachine(MotoMachine):
    members = MotoMachine.members
    purchases = MotoMachine.purchases

    def __init__(self):
        super().__init__()
        folder = Path(tempfile.mkdtemp())
        document = PROGRAM.model_dump(mode="json")
        program = Program.model_validate({**document, "earn": {**document["earn"], "pending_days": PENDING_DAYS}})
        (folder / "program.json").write_text(json.dumps(program.model_dump(mode="json")))
        self.clock_file, self.offset = folder / "clock.json", timedelta()
        self.clock_file.write_text(json.dumps({"offset_seconds": 0}))
        self.env = {"PROGRAM_FILE": str(folder / "program.json"), "LOCAL_CLOCK_FILE": str(self.clock_file)}
        self.balance: dict[str, int] = {}
        self.pending: dict[str, dict[str, int]] = {}  # member -> available_at (as answered) -> points
        self.purchase_state: dict[tuple[str, str], dict] = {}

    def _settle(self, member_id: str) -> None:
        """What the handlers will see: pending points whose time has come are available (the handlers' clock
        reads a moment later than this, never earlier)."""
        now = datetime.now(timezone.utc) + self.offset
        for available_at, points in sorted(self.pending[member_id].items()):
            if datetime.fromisoformat(available_at) <= now:
                self.balance[member_id] += points
                del self.pending[member_id][available_at]

    @rule(days=st.integers(min_value=0, max_value=20), hours=st.integers(min_value=0, max_value=23))
    def advance_clock(self, days, hours):
        self.offset += timedelta(days=days, hours=hours)
        self.clock_file.write_text(json.dumps({"offset_seconds": self.offset.total_seconds()}))

    @rule(target=members)
    def enroll_member(self):
        reply = enroll(f"{self._next('user')}@example.com", env=self.env)
        assert reply.status == 201
        self.balance[reply["member_id"]], self.pending[reply["member_id"]] = reply["points_balance"], {}
        self.touched.add(reply["member_id"])
        return reply["member_id"]

    @rule(target=purchases, member_id=members, amount=st.integers(min_value=1, max_value=60_000))
    def earn_points(self, member_id, amount):
        transaction_id = self._next("t")
        self._settle(member_id)
        reply = earn(member_id, transaction_id, amount, env=self.env)
        assert reply.status == 201, reply.body
        assert reply["balance"] == self.balance[member_id], "purchase points are not spendable yet"
        held = self.pending[member_id]
        held[reply["available_at"]] = held.get(reply["available_at"], 0) + reply["points"]
        self.purchase_state[(member_id, transaction_id)] = {
            "amount": amount, "points": reply["points"], "refunded": 0, "reversed": 0, "available_at": reply["available_at"],
        }
        self.touched.add(member_id)
        return (member_id, transaction_id)

    @rule(member_id=members, points=st.integers(min_value=1, max_value=800))
    def redeem_points(self, member_id, points):
        self._settle(member_id)
        reply = redeem(member_id, self._next("k"), points=points, env=self.env)
        if points > self.balance[member_id]:
            assert reply.status == 422 and reply["code"] == "INSUFFICIENT_POINTS", reply.body
        else:
            assert reply.status == 201, reply.body
            self.balance[member_id] -= points
            assert reply["balance"] == self.balance[member_id]
        self.touched.add(member_id)

    @rule(member_id=members, points=st.integers(min_value=-300, max_value=300).filter(bool))
    def adjust_points(self, member_id, points):
        self._settle(member_id)
        event = http_event("POST", f"/v1/members/{member_id}/adjustments", body={"points": points, "reason": "model"},
                           scopes="loyalty/admin", sub="admin", headers={"Idempotency-Key": self._next("a")})
        reply = call("earn", event, **self.env)
        if -points > self.balance[member_id]:
            assert reply.status == 422 and reply["code"] == "INSUFFICIENT_POINTS"
        else:
            assert reply.status == 201, reply.body
            self.balance[member_id] += points
            assert reply["balance"] == self.balance[member_id]
        self.touched.add(member_id)

    @rule(purchase=purchases, share=st.integers(min_value=1, max_value=100))
    def return_some(self, purchase, share):
        member_id, transaction_id = purchase
        state = self.purchase_state[purchase]
        refundable = state["amount"] - state["refunded"]
        amount = max(1, refundable * share // 100)
        self._settle(member_id)
        body = {"transaction_id": transaction_id, "return_id": self._next("r"), "amount_minor": amount}
        reply = call("earn", http_event("POST", f"/v1/members/{member_id}/returns", body=body), **self.env)
        if refundable == 0:
            assert reply.status == 422 and reply["code"] == "REFUND_EXCEEDS_PURCHASE"
            return
        assert reply.status == 201, reply.body
        state["refunded"] += amount
        due = state["points"] * state["refunded"] // state["amount"] - state["reversed"]
        state["reversed"] += due
        held = self.pending[member_id]
        from_pending = min(due, held.get(state["available_at"], 0))  # the purchase's pending points first
        if from_pending:
            held[state["available_at"]] -= from_pending
            if not held[state["available_at"]]:
                del held[state["available_at"]]
        from_balance = min(due - from_pending, self.balance[member_id])
        assert (reply["points"], reply["points_unrecovered"]) == (-(from_pending + from_balance), due - from_pending - from_balance)
        self.balance[member_id] -= from_balance
        self.touched.add(member_id)

    @invariant()
    def spendable_plus_pending_is_the_ledger(self):
        for member_id in self.touched:
            stored = self.store.get_member(member_id)
            assert stored.balance >= 0 and all(points >= 0 for points in stored.pending.values())
            assert stored.balance + sum(stored.pending.values()) == ledger_sum(member_id)
            assert stored.balance == sum(stored.lots.values())
            self._settle(member_id)
            shown = view(member_id, env=self.env)
            assert (shown["points_balance"], shown["points_pending"]) == (
                self.balance[member_id], sum(self.pending[member_id].values()))
            assert shown["points_balance"] + shown["points_pending"] == ledger_sum(member_id)
        self.touched.clear()


PendingLedgerMachine.TestCase.settings = settings(
    max_examples=10, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPendingLedger = PendingLedgerMachine.TestCase
