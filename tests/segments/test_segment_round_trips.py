"""Earn stays at two DynamoDB round trips with 50 segments and 16 audience campaigns (issue 22, performance)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from loyalty.core.cache import Refreshed
from loyalty.domain.access import Caller
from loyalty.domain.model import BasketItem, Purchase
from loyalty.domain.segments import parse_segment
from loyalty.earning.store import EarnStore
from loyalty.earning.use_cases import Earning
from loyalty.segments.store import SegmentStore
from tests.conftest import make_loyalty
from tests.functional.helpers import POS
from tests.functional.test_campaign_earn import activate, campaign_store

pytestmark = pytest.mark.usefixtures("tables")


def test_earn_is_two_round_trips_with_50_segments_and_16_audience_campaigns():
    segments = SegmentStore(campaign_store().model)
    now = datetime.now(timezone.utc)
    for index in range(50):  # the even ones hold for a member who bought coffee; the odd ones never do
        test = ({"fact": "member.categories_90d", "op": "contains", "value": "coffee"} if index % 2 == 0
                else {"fact": "member.attributes.never", "op": "exists"})
        segments.create(parse_segment({"segment_id": f"s{index:02d}", "name": f"s{index}", "conditions": {"all": [test]}}), now)
    activate(*({"campaign_id": f"c{index:02d}", "name": f"c{index}", "effect": {"type": "bonus", "points": 10},
                "audience": {"segments": [f"s{(index * 3 + (1 if index % 3 == 0 else 0)) % 50:02d}"],
                             "exclude_segments": [f"s{(index * 2 + 1) % 50:02d}"]},
                "limits": [{"per": "member", "period": "day", "max_points": 100},
                           {"per": "campaign", "period": "campaign", "max_times": 1000}]} for index in range(16)))
    campaigns, cached_segments = Refreshed(campaign_store().active, 60), Refreshed(segments.all, 60)
    uc = make_loyalty(at=now, campaigns=campaigns.get)
    earning = Earning(uc.store, EarnStore(uc.store), uc.clock, uc.earning.programs, campaigns.get, segments=cached_segments.get)
    staff = Caller("terminal-1", frozenset({POS}))
    member_id = uc.enroll(staff, email="round@example.com", channel="store").member_id
    coffee = (BasketItem("LATTE", 1000, 1, "coffee"),)
    earning.earn(staff, member_id, Purchase("t-0", 1000, "EUR", items=coffee), payload={"t": 0})  # warms both caches
    requests = []
    uc.store.on_request(lambda operation, params: requests.append(operation))
    outcome = earning.earn(staff, member_id, Purchase("t-1", 1000, "EUR", items=coffee), payload={"t": 1})
    assert requests == ["BatchGetItem", "TransactWriteItems"]
    # the member (a coffee buyer) is in every even segment and no odd one; every exclusion names an odd one
    def audience_holds(index: int) -> bool:
        return (index * 3 + (1 if index % 3 == 0 else 0)) % 50 % 2 == 0

    applied = sorted(line.campaign_id for line in outcome.entry.breakdown if line.source == "campaign")
    assert applied == [f"c{index:02d}" for index in range(16) if audience_holds(index)]
    not_in = [entry.campaign_id for entry in earning.preview(staff, member_id, Purchase("t-2", 1000, "EUR")).award.not_applied
              if entry.reason == "NOT_IN_AUDIENCE"]
    assert not_in == [f"c{index:02d}" for index in range(16) if not audience_holds(index)] != []
