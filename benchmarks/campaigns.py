"""Campaign engine benchmark: the time an earn spends evaluating campaigns, for 0, 10 and 100 active ones.

Pure domain code (no DynamoDB): per purchase, the basket's eligible amounts (`basket.eligible`), the limit
counters it reads (`counter_keys`, each with some use already) and `evaluate`, timed in-process, median of
many purchases. The campaigns are documents as an admin would write them (see API.md's example): a mix of
multipliers on a category during a weekday window, bonuses with conditions on the order and the member,
per-item and per-amount rewards, each with limits. The figures are informative: no target.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone

from benchmarks.environment import use_environment

ACTIVE = (0, 10, 100)
PURCHASES = 2_000
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
    from loyalty.domain.campaigns import Usage, counter_keys, evaluate, parse_campaign
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


def main() -> int:
    use_environment()
    rows = [_measure(count) for count in ACTIVE]
    print(f"Campaign evaluation per purchase (basket of 7 lines, limit counters read), in-process, {PURCHASES:,} purchases")
    print(f"{'active campaigns':>16} {'median us':>10} {'p90 us':>8} {'applied':>8} {'campaign points':>16}")
    for row in rows:
        print(f"{row['active']:>16} {row['us']:>10.1f} {row['p90']:>8.1f} {row['applied']:>8} {row['points']:>16}")
    print("\ninformative only: the campaign engine has no target yet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
