"""The backtest: a campaign replayed by the campaign engine itself (loyalty.domain.campaigns.evaluate, imported
here only) over the stored purchases of a range, as if it had been active then: its schedule, conditions, effect
and limits apply (limit counters kept as the replay goes, in the order the purchases happened); its own dates do
not (the range says when). Nothing is written anywhere but the answer.

What the engine reads of a member comes from the store: the tier after the purchase, the purchases before it,
the enrolment time; the store holds no birthday, so a condition on member.days_from_birthday never holds here.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from loyalty.program import Program


@lru_cache(maxsize=65_536)  # enrolment times repeat with their members
def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@lru_cache(maxsize=4_096)  # baskets repeat (the same single coffee, again and again)
def _items(text: str | None):
    from loyalty.domain.model import BasketItem

    return tuple(BasketItem(sku=i["sku"], amount_minor=int(i["amount_minor"]), quantity=int(i.get("quantity") or 1),
                            category=i.get("category")) for i in json.loads(text or "null") or ())


def replay(rows: list[dict[str, Any]], campaign_document: dict[str, Any], program: Program, start: date,
           end: date) -> dict[str, Any]:
    from loyalty.domain.basket import eligible
    from loyalty.domain.campaigns.document import parse_campaign
    from loyalty.domain.campaigns.engine import Usage, evaluate
    from loyalty.domain.model import Member, Purchase

    campaign = parse_campaign({**campaign_document, "starts_at": None, "ends_at": None})
    campaigns = [campaign]
    in_all: dict[Any, Usage] = {}  # the campaign's counters in all
    per_member: dict[str, dict[Any, Usage]] = {}  # each member's own (a member's counter key does not name it)
    by_day = {(start + timedelta(days=n)).isoformat(): [0, 0] for n in range((end - start).days + 1)}
    members: set[str] = set()
    points = 0
    for row in rows:
        at = _time(row["occurred_at"])
        items = _items(row["items"])
        purchase = Purchase(transaction_id=row["transaction_id"], amount_minor=int(row["amount_minor"]),
                            currency=row["currency"] or program.currency, occurred_at=at, store_id=row["store_id"],
                            channel=row["channel"], items=items)
        member = Member(member_id=row["member_id"], email="", channel="", referral_code="",
                        enrolled_at=_time(row["enrolled_at"]) if row["enrolled_at"] else at,
                        tier=row["tier"] or program.tiers[0].name, purchases=int(row["earlier"] or 0))
        own = per_member.setdefault(row["member_id"], {})
        award = evaluate(campaigns, purchase, member, {**in_all, **own}, at, time_zone=program.time_zone,
                         eligible=eligible(purchase, program.earn.excluded_categories),
                         points_per_unit=program.earn.points_per_unit, unit_minor=program.earn.unit_minor)
        for increment in award.increments:
            counters = own if increment.key.per == "member" else in_all
            used = counters.get(increment.key, Usage())
            counters[increment.key] = Usage(used.points + increment.points, used.times + increment.times)
        if award.points > 0:
            day = by_day.setdefault(row["day"], [0, 0])
            day[0] += 1
            day[1] += award.points
            points += award.points
            members.add(row["member_id"])
    return {"campaign_id": campaign.campaign_id, "from": start.isoformat(), "to": end.isoformat(),
            "purchases_matched": sum(day[0] for day in by_day.values()), "members_matched": len(members),
            "points": points, "cost_minor": points * program.point_value_minor,
            "by_day": [{"day": day, "purchases": n, "points": p} for day, (n, p) in sorted(by_day.items())]}
