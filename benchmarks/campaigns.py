"""Campaigns in earn, for 0, 10 and 100 active campaigns.

1. The earn function (warm, campaigns cached) against moto in server mode: DynamoDB requests per earn (target:
   2, whatever the number of campaigns: the limit counters come in the member's read and the earn's
   transaction) and the warm ratio, handler time over the same DynamoDB calls replayed with plain boto3 on
   twin tables (as benchmarks.api does; target <= 1.5).
2. The engine alone (no DynamoDB): per purchase, the basket's eligible amounts (`basket.eligible`), the limit
   counters it reads (`counter_keys`, each with some use already) and `evaluate`, timed in-process, median of
   many purchases. Informative: no target.
The campaigns are documents as an admin would write them (see API.md's example): a mix of multipliers on a
category during a weekday window, bonuses with conditions on the order and the member, per-item and per-amount
rewards, each with limits.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import datetime, timezone

from benchmarks.environment import LambdaContext, api_event, load_function, use_environment, verdict

ACTIVE = (0, 10, 100)
PURCHASES = 2_000
EARNS = int(os.environ.get("BENCH_CALLS", "60"))
TARGET_REQUESTS, WARM_TARGET = 2, 1.5
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)  # a Wednesday afternoon
CATEGORIES = ("coffee", "bakery", "dairy", "produce", "snacks")


def _document(index: int) -> dict:
    """One of four kinds of campaign, all active at NOW; most apply to the purchase here."""
    category = CATEGORIES[index % len(CATEGORIES)]
    document = {
        "campaign_id": f"c{index:03d}", "name": f"campaign {index}", "starts_at": "2026-12-01T00:00:00Z",
        "priority": index % 7 * 10,
        "limits": [{"per": "member", "period": "day", "max_points": 200},
                   {"per": "campaign", "period": "campaign", "max_points": 1_000_000}],
    }
    kind = index % 4
    if kind == 0:
        document.update(effect={"type": "multiply", "factor": "2"}, applies_to={"categories": [category], "skus": []},
                        schedule={"days": ["mon", "tue", "wed", "thu", "fri"], "from": "14:00", "to": "17:00"})
    elif kind == 1:
        document.update(effect={"type": "bonus", "points": 50}, conditions={"all": [
            {"fact": "order.channel", "op": "in", "value": ["app", "store"]},
            {"fact": "order.eligible_minor", "op": "gte", "value": 500 * (index % 5 + 1)}]})
    elif kind == 2:
        document.update(effect={"type": "per_item", "points": 5}, applies_to={"categories": [category], "skus": []})
    else:
        document.update(effect={"type": "bonus", "points": 25}, exclusive_group=f"g{index % 3}",
                        conditions={"any": [{"fact": "member.tier", "op": "in", "value": ["Silver", "Gold"]},
                                            {"fact": "order.eligible_minor", "op": "gte", "value": 2_000}]})
    return document


def _measure(count: int) -> dict:
    from loyalty.domain import basket
    from loyalty.domain.campaigns.document import parse_campaign
    from loyalty.domain.campaigns.engine import Usage, counter_keys, evaluate
    from loyalty.domain.model import BasketItem, Member, Purchase

    campaigns = [parse_campaign(_document(index)) for index in range(count)]
    member = Member(member_id="m1", email="a@example.com", enrolled_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                    channel="app", tier="Silver", referral_code="ABCD2345")
    items = tuple(BasketItem(f"sku-{line}", 350 + line * 120, 1 + line % 3, CATEGORIES[line % len(CATEGORIES)])
                  for line in range(6)) + (BasketItem("gift", 2_000, 1, "gift_card"),)
    times, points = [], 0
    for index in range(PURCHASES):
        purchase = Purchase(f"t{index}", sum(item.amount_minor * item.quantity for item in items), "EUR",
                            channel="store", items=items)
        began = time.perf_counter()
        eligible = basket.eligible(purchase, ("gift_card", "tax"))
        counters = {key: Usage(points=index % 150, times=index % 3)
                    for key in counter_keys(campaigns, NOW, time_zone="Europe/Paris")}
        award = evaluate(campaigns, purchase, member, counters, NOW, time_zone="Europe/Paris", eligible=eligible,
                         points_per_unit=1, unit_minor=100)
        times.append(time.perf_counter() - began)
        points = sum(line.points for line in award.breakdown)
    return {"active": count, "us": statistics.median(times) * 1e6, "p90": statistics.quantiles(times, n=10)[-1] * 1e6,
            "applied": len(award.breakdown), "points": points}


def _earning_document(index: int) -> dict:
    """A campaign of `_document`'s kinds that applies now, whatever the date: no start, no schedule, room left."""
    document = _document(index)
    document.pop("starts_at"), document.pop("schedule", None)
    document["limits"] = [{"per": "member", "period": "day", "max_points": 1_000_000},
                          {"per": "campaign", "period": "campaign", "max_points": 1_000_000_000}]
    return document


def _earn_benchmark() -> list[dict]:
    """Requests and warm ratio of the earn function with 0, 10 and 100 active campaigns (see the module's doc)."""
    import boto3

    from benchmarks.api import Recorder, _replay, moto_with_twins

    use_environment(CAMPAIGN_CACHE_SECONDS="60")
    with moto_with_twins() as endpoint:
        from loyalty.domain.campaigns.document import parse_campaign
        from loyalty.campaigns.store import CampaignStore

        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        campaigns = CampaignStore.from_table(os.environ["CATALOG_TABLE"], "us-east-1", endpoint)
        now = datetime.now(timezone.utc)
        enroll_function = load_function("enroll", instance=50)
        enrolled = Recorder()  # the enrollments are replayed on the twin tables too: same members there
        enroll_function.parts().store.on_request(enrolled)
        items = [{"sku": f"sku-{line}", "category": CATEGORIES[line % len(CATEGORIES)], "amount_minor": 350 + line * 120,
                  "quantity": 1 + line % 3} for line in range(6)] + [{"sku": "gift", "category": "gift_card", "amount_minor": 2000}]
        rows, active = [], 0
        for count in ACTIVE:
            for index in range(active, count):
                campaigns.create(parse_campaign(_earning_document(index)), now)
                campaigns.activate(f"c{index:03d}", now)
            active = count
            first = len(enrolled.calls)
            reply = enroll_function.lambda_handler(api_event("POST", "/v1/members", body={"email": f"bench{count}@example.com"}),
                                                   LambdaContext())
            _replay(client, enrolled.calls[first:])
            member_id = json.loads(reply["body"])["member_id"]
            function = load_function("earn", instance=60 + count)  # its own instance: its cache holds these campaigns
            recorder = Recorder()
            function.parts().store.on_request(recorder)
            function.parts().campaigns.on_request(recorder)
            times, direct, requests = [], [], []
            for call in range(-1, EARNS):  # the first loads the campaigns: not counted
                body = {"transaction_id": f"t{count}-{call}", "amount_minor": sum(item["amount_minor"] for item in items),
                        "currency": "EUR", "channel": "store", "items": items}
                first = len(recorder.calls)
                started = time.perf_counter()
                response = function.lambda_handler(api_event("POST", f"/v1/members/{member_id}/earn", body=body), LambdaContext())
                elapsed = time.perf_counter() - started
                assert response["statusCode"] == 201, response
                replayed = _replay(client, recorder.calls[first:])
                if call >= 0:
                    times.append(elapsed)
                    direct.append(replayed)
                    requests.append(len(recorder.calls) - first)
            applied = len([line for line in json.loads(response["body"])["breakdown"] if line["source"] == "campaign"])
            rows.append({"active": count, "requests": max(requests), "applied": applied,
                         "handler_ms": statistics.median(times) * 1000, "direct_ms": statistics.median(direct) * 1000,
                         "ratio": statistics.median(times) / statistics.median(direct)})
        return rows


def main() -> int:
    earn_rows = _earn_benchmark()
    print(f"Earn with active campaigns, warm (campaigns cached), {EARNS} earns each (moto server on loopback); medians")
    print(f"{'active campaigns':>16} {'applied':>8} {'DDB req/earn':>12} {'target':>7} {'handler ms':>11} {'direct ms':>10} "
          f"{'ratio':>6} {'target':>7}")
    for row in earn_rows:
        met = "met" if row["ratio"] <= WARM_TARGET else "MISSED"
        print(f"{row['active']:>16} {row['applied']:>8} {row['requests']:>12} {'<= 2':>7} {row['handler_ms']:>11.2f} "
              f"{row['direct_ms']:>10.2f} {row['ratio']:>6.2f} {met:>7}")
    rows = [_measure(count) for count in ACTIVE]
    print(f"\nCampaign evaluation per purchase (basket of 7 lines, limit counters read), in-process, {PURCHASES:,} purchases")
    print(f"{'active campaigns':>16} {'median us':>10} {'p90 us':>8} {'applied':>8} {'campaign points':>16}")
    for row in rows:
        print(f"{row['active']:>16} {row['us']:>10.1f} {row['p90']:>8.1f} {row['applied']:>8} {row['points']:>16}")
    print("(the engine alone is informative; its time is inside the handler's above)")
    missed = [f"earn with {row['active']} campaigns: {row['requests']} DynamoDB requests (target {TARGET_REQUESTS})"
              for row in earn_rows if row["requests"] > TARGET_REQUESTS]
    missed += [f"earn with {row['active']} campaigns: warm overhead {row['ratio']:.2f}x a direct boto3 replay "
               f"(target {WARM_TARGET})" for row in earn_rows if row["ratio"] > WARM_TARGET]
    return verdict(missed)


if __name__ == "__main__":
    raise SystemExit(main())
