"""The campaigns' store: drafts, activation, and the one Query the earn function caches."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from loyalty.domain import errors
from loyalty.domain.campaigns.document import parse_campaign
from loyalty.campaigns.store import ACTIVE, DRAFT, CampaignStore
from tests.conftest import REGION, TABLES

pytestmark = pytest.mark.usefixtures("tables")

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def coffee(**fields):
    return parse_campaign({
        "campaign_id": "coffee-double", "name": "Double points on coffee", "starts_at": "2026-12-01T00:00:00Z",
        "schedule": {"days": ["mon", "tue"], "from": "14:00", "to": "17:00"},
        "conditions": {"all": [{"fact": "order.channel", "op": "in", "value": ["app", "store"]}]},
        "applies_to": {"categories": ["coffee"]}, "effect": {"type": "multiply", "factor": "2"},
        "limits": [{"per": "member", "period": "day", "max_points": 200}], **fields,
    })


@pytest.fixture
def campaigns() -> CampaignStore:
    return CampaignStore.from_table(TABLES["CATALOG_TABLE"], REGION)


def test_a_draft_is_stored_whole_and_is_not_active(campaigns):
    created = campaigns.create(coffee(), NOW)
    stored = campaigns.get("coffee-double")
    assert stored == created and stored.status == DRAFT and stored.campaign == coffee()
    assert campaigns.active() == []


def test_a_taken_id_is_refused(campaigns):
    campaigns.create(coffee(), NOW)
    with pytest.raises(errors.CampaignExists):
        campaigns.create(coffee(name="Other"), NOW)
    assert campaigns.get("coffee-double").campaign.name == "Double points on coffee"


def test_activation_makes_it_active_once_and_the_rewards_stay_apart(campaigns):
    campaigns.create(coffee(), NOW)
    campaigns.create(coffee(campaign_id="tea-bonus", effect={"type": "bonus", "points": 5}), NOW)
    first = campaigns.activate("coffee-double", NOW)
    again = campaigns.activate("coffee-double", datetime(2026, 11, 27, tzinfo=timezone.utc))
    assert first.status == ACTIVE and first.activated_at == NOW and again == first
    assert campaigns.active() == [coffee()]


def test_activating_an_unknown_campaign_is_not_found(campaigns):
    with pytest.raises(errors.CampaignNotFound):
        campaigns.activate("nothing", NOW)
    assert campaigns.get("nothing") is None
