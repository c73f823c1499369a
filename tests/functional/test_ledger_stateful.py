"""Random sequences of enroll, earn, redeem, return, admin adjustment and cancelled redemptions (and replays),
through the handlers.

A small reference model predicts every balance; after each step the touched members must
agree with it, with the sum of their ledger, and with the sum of their lots, and never go negative.
Two campaigns with limits are active: each campaign's counter equals the campaign points of the earn
entries, within its budget, and every earn's breakdown adds up to its points.
"""

from __future__ import annotations

import boto3
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule
from moto import mock_aws

from loyalty.domain.campaigns.document import parse_campaign
from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS
from loyalty.campaigns.store import CampaignStore

from loyalty_local.template import create_tables
from tests.conftest import REGION, TABLES, call, http_event, local_store
from tests.functional.helpers import earn, enroll, ledger_sum, redeem, return_points, view


class MotoMachine(RuleBasedStateMachine):
    """Fresh moto tables with the demo catalog for each example, and ids that do not repeat."""

    members = Bundle("members")
    purchases = Bundle("purchases")

    def __init__(self):
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        from loyalty import seed

        seed.seed_demo("CatalogTable", "us-east-1")
        self.store = local_store()
        self.counter = 0
        self.touched: set[str] = set()

    def teardown(self):
        self.mock.stop()

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"


class LedgerMachine(MotoMachine):
    members = MotoMachine.members
    purchases = MotoMachine.purchases

    def __init__(self):
        super().__init__()
        self.balance: dict[str, int] = {}
        self.purchase_state: dict[tuple[str, str], dict] = {}
        self.redemptions: list[tuple[str, str, int, dict]] = []
        self.earn_replies: list[tuple[str, str, int, dict]] = []
        self.adjustments: list[tuple[str, str, int, dict]] = []
        self.cancels: dict[tuple[str, str], dict] = {}  # (member_id, redemption_id) -> the cancel's answer
        self._activate_campaigns()

    CAMPAIGNS = (
        {"campaign_id": "big-spender", "name": "20 on 20 euros", "effect": {"type": "bonus", "points": 20},
         "conditions": {"all": [{"fact": "order.eligible_minor", "op": "gte", "value": 2000}]},
         "limits": [{"per": "member", "period": "day", "max_times": 2},
                    {"per": "campaign", "period": "campaign", "max_points": 150}]},
        {"campaign_id": "double-coffee", "name": "double coffee", "effect": {"type": "multiply", "factor": "2"},
         "applies_to": {"categories": ["coffee"]}, "limits": [{"per": "member", "period": "day", "max_points": 30}]},
    )
    BUDGETS = {"big-spender": 150}

    def _activate_campaigns(self):
        from datetime import datetime, timezone

        store, now = CampaignStore.from_table(TABLES["CATALOG_TABLE"], REGION), datetime.now(timezone.utc)
        for document in self.CAMPAIGNS:
            store.create(parse_campaign(document), now)
            store.activate(document["campaign_id"], now)
        self.campaign_points = {document["campaign_id"]: 0 for document in self.CAMPAIGNS}
        self.baskets: dict[tuple[str, str], list | None] = {}

    @rule(target=members)
    def enroll_member(self):
        reply = enroll(f"{self._next('user')}@example.com")
        assert reply.status == 201
        self.balance[reply["member_id"]] = reply["points_balance"]
        self.touched.add(reply["member_id"])
        return reply["member_id"]

    @rule(target=purchases, member_id=members, amount=st.integers(min_value=1, max_value=60_000), basket=st.booleans())
    def earn_points(self, member_id, amount, basket):
        transaction_id = self._next("t")
        # a basket: half a gift card (earns nothing), half coffee (doubled by a campaign, within its limit)
        items = [{"sku": "GIFT", "category": "gift_card", "amount_minor": amount // 2},
                 {"sku": "LATTE", "category": "coffee", "amount_minor": amount - amount // 2}] if basket else None
        reply = earn(member_id, transaction_id, amount, env=FRESH_CAMPAIGNS, **({"items": items} if items else {}))
        assert reply.status == 201, reply.body
        assert reply["base_points"] == (amount - amount // 2 if basket else amount) // 100
        assert reply["points"] >= reply["base_points"], "a tier multiplier never lowers the base rate"
        assert reply["points"] == sum(line["points"] for line in reply["breakdown"])
        self.baskets[(member_id, transaction_id)] = items
        for line in reply["breakdown"]:
            if line["source"] == "campaign":
                self.campaign_points[line["campaign_id"]] += line["points"]
        assert reply["balance"] == self.balance[member_id] + reply["points"]
        self.balance[member_id] = reply["balance"]
        self.purchase_state[(member_id, transaction_id)] = {"amount": amount, "points": reply["points"], "refunded": 0, "reversed": 0}
        self.earn_replies.append((member_id, transaction_id, amount, reply.body))
        self.touched.add(member_id)
        return (member_id, transaction_id)

    @precondition(lambda self: self.earn_replies)
    @rule(data=st.data())
    def replay_earn(self, data):
        member_id, transaction_id, amount, original = data.draw(st.sampled_from(self.earn_replies))
        items = self.baskets.get((member_id, transaction_id))
        reply = earn(member_id, transaction_id, amount, env=FRESH_CAMPAIGNS, **({"items": items} if items else {}))
        assert reply.status == 200 and reply.body == original
        reused = earn(member_id, transaction_id, amount + 1)
        assert reused.status == 409 and reused["code"] == "IDEMPOTENCY_KEY_REUSED"
        self.touched.add(member_id)

    @rule(member_id=members, points=st.integers(min_value=1, max_value=800))
    def redeem_points(self, member_id, points):
        key = self._next("k")
        reply = redeem(member_id, key, points=points)
        if points > self.balance[member_id]:
            assert reply.status == 422 and reply["code"] == "INSUFFICIENT_POINTS"
        else:
            assert reply.status == 201, reply.body
            self.balance[member_id] -= points
            assert reply["balance"] == self.balance[member_id]
            self.redemptions.append((member_id, key, points, reply.body))
        self.touched.add(member_id)

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data())
    def replay_redeem(self, data):
        member_id, key, points, original = data.draw(st.sampled_from(self.redemptions))
        reply = redeem(member_id, key, points=points)
        assert reply.status == 200 and reply.body == original
        self.touched.add(member_id)

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data())
    def cancel_redemption(self, data):
        member_id, _, points, original = data.draw(st.sampled_from(self.redemptions))
        redemption_id = original["redemption_id"]
        event = http_event("POST", f"/v1/members/{member_id}/redemptions/{redemption_id}/cancel", scopes="loyalty/pos")
        reply = call("redeem", event)
        assert reply.status == 200, reply.body
        if (member_id, redemption_id) in self.cancels:
            assert reply.body == self.cancels[(member_id, redemption_id)], "a cancel again answers the same"
        else:
            # nothing has expired: every point comes back (the lots are at least a year from expiry)
            assert (reply["points"], reply["points_forfeited"]) == (points, 0)
            self.balance[member_id] += points
            assert reply["balance"] == self.balance[member_id]
            self.cancels[(member_id, redemption_id)] = reply.body
        self.touched.add(member_id)

    def _adjust(self, member_id: str, key: str, points: int):
        event = http_event("POST", f"/v1/members/{member_id}/adjustments", body={"points": points, "reason": "model"},
                           scopes="loyalty/admin", sub="admin", headers={"Idempotency-Key": key})
        return call("earn", event)

    @rule(member_id=members, points=st.integers(min_value=-800, max_value=800).filter(bool))
    def adjust_points(self, member_id, points):
        key = self._next("a")
        reply = self._adjust(member_id, key, points)
        if -points > self.balance[member_id]:
            assert reply.status == 422 and reply["code"] == "INSUFFICIENT_POINTS"
        else:
            assert reply.status == 201, reply.body
            self.balance[member_id] += points
            assert reply["balance"] == self.balance[member_id]
            self.adjustments.append((member_id, key, points, reply.body))
        self.touched.add(member_id)

    @precondition(lambda self: self.adjustments)
    @rule(data=st.data())
    def replay_adjustment(self, data):
        member_id, key, points, original = data.draw(st.sampled_from(self.adjustments))
        reply = self._adjust(member_id, key, points)
        assert reply.status == 200 and reply.body == original
        self.touched.add(member_id)

    @rule(purchase=purchases, share=st.integers(min_value=1, max_value=100))
    def return_some(self, purchase, share):
        member_id, transaction_id = purchase
        state = self.purchase_state[purchase]
        refundable = state["amount"] - state["refunded"]
        amount = max(1, refundable * share // 100)
        reply = return_points(member_id, transaction_id, self._next("r"), amount)
        if refundable == 0:
            assert reply.status == 422 and reply["code"] == "REFUND_EXCEEDS_PURCHASE"
            return
        assert reply.status == 201, reply.body
        state["refunded"] += amount
        due = state["points"] * state["refunded"] // state["amount"] - state["reversed"]
        state["reversed"] += due
        recovered = min(due, self.balance[member_id])
        assert (reply["points"], reply["points_unrecovered"]) == (-recovered, due - recovered)
        self.balance[member_id] -= recovered
        self.touched.add(member_id)

    @invariant()
    def touched_members_agree_with_the_model_and_the_ledger(self):
        for member_id in self.touched:
            stored = self.store.get_member(member_id)
            assert stored.balance == self.balance[member_id] >= 0
            assert stored.balance == sum(stored.lots.values()) == ledger_sum(member_id)
            assert all(points > 0 for points in stored.lots.values())
            assert view(member_id)["points_balance"] == stored.balance
        self.touched.clear()

    @invariant()
    def campaign_counters_equal_the_campaign_points_of_the_ledger_and_stay_within_budget(self):
        # Statistics no limit counts come from the ledger stream: the whole stream is delivered again each time (so
        # every record but the newest is a redelivery, which must add nothing).
        import tempfile
        from pathlib import Path

        from tests.functional.test_campaign_statistics import deliver, ledger_records

        deliver(ledger_records(), Path(tempfile.gettempdir()) / "stateful-publisher")
        client = boto3.client("dynamodb", region_name=REGION)
        for campaign_id, points in self.campaign_points.items():
            shards = [client.get_item(TableName=TABLES["STATS_TABLE"], Key={"pk": {"S": f"CL#{campaign_id}#*#campaign#{shard}"}},
                                      ConsistentRead=True).get("Item") for shard in range(CAMPAIGN_SHARDS)]
            held = [int(item["points"]["N"]) if item else 0 for item in shards]
            assert sum(held) == points <= self.BUDGETS.get(campaign_id, points)
            if campaign_id in self.BUDGETS:  # each shard within its share of the budget
                budget = self.BUDGETS[campaign_id]
                assert all(points_held <= budget // CAMPAIGN_SHARDS + (shard < budget % CAMPAIGN_SHARDS)
                           for shard, points_held in enumerate(held))


FRESH_CAMPAIGNS = {"CAMPAIGN_CACHE_SECONDS": "0"}  # an earn instance that reads the campaigns of this example

LedgerMachine.TestCase.settings = settings(
    max_examples=20, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedger = LedgerMachine.TestCase
