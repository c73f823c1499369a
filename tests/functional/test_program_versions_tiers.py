"""A tier a published version adds, in the back office: the catalog and campaigns functions take the program's tiers
from the versions (the newest, a future one included), so a reward's min_tier and a campaign's condition on
member.tier may name it; an unknown tier is still 422 and writes nothing; and until the version that adds it is in
force, nobody holds the tier, so nobody may redeem its reward."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import PROGRAM, call, http_event
from tests.functional.helpers import ADMIN, MEMBER, admin_catalog, earn, enroll, list_rewards, redeem, table_items

pytestmark = pytest.mark.usefixtures("tables")

FRESH = {"PROGRAM_CACHE_SECONDS": "0"}  # read the versions on every call
CACHED = {"PROGRAM_CACHE_SECONDS": "60"}  # as deployed
WARM = 41  # an instance of its own: a cache kept for a minute must not outlive this file's tables into another test


def diamond_program(threshold: int = 5_000) -> dict:
    """The program document with a Diamond tier on top."""
    body = json.loads(PROGRAM.model_dump_json())
    top = body["tiers"][-1]["min_qualifying_points"]
    body["tiers"].append({"name": "Diamond", "min_qualifying_points": max(threshold, top + 1), "earn_multiplier": 3})
    return body


def publish(body: dict, effective_from: datetime | None = None):
    if effective_from is not None:
        body = {**body, "effective_from": effective_from.isoformat().replace("+00:00", "Z")}
    event = http_event("POST", "/v1/program/versions", body={**body, "note": "Diamond"}, scopes=ADMIN, sub="admin-ann")
    return call("program", event, **FRESH)


def reward(reward_id: str = "lounge", **fields) -> dict:
    return {"reward_id": reward_id, "name": "Lounge", "description": "The lounge.", "kind": "perk", "points": 10,
            "value_minor": 0, **fields}


def campaign(campaign_id: str = "diamond-days", tiers=("Diamond",)) -> dict:
    return {"campaign_id": campaign_id, "name": "Diamond days", "description": "A bonus for the top tier.",
            "conditions": {"all": [{"fact": "member.tier", "op": "in", "value": list(tiers)}]},
            "effect": {"type": "bonus", "points": 50}, "priority": 10}


def campaigns(body: dict, instance: int = 0, env: dict | None = None):
    event = http_event("POST", "/v1/campaigns", body=body, scopes=ADMIN, sub="back-office-1")
    return call("campaigns", event, instance, **(env or FRESH))


def test_a_tier_a_published_version_adds_is_accepted_in_a_reward_and_a_campaign_condition():
    before = table_items()
    assert admin_catalog("POST", "/v1/rewards", reward(min_tier="Diamond"), env=FRESH)["code"] == "UNKNOWN_TIER"
    refused = campaigns(campaign())
    assert refused.status == 422 and [problem["field"] for problem in refused["errors"]] == ["conditions.all.0.value"]
    assert table_items() == before

    assert publish(diamond_program()).status == 201  # in force at once
    created = admin_catalog("POST", "/v1/rewards", reward(min_tier="Diamond"), env=FRESH)
    assert created.status == 201 and created["min_tier"] == "Diamond"
    replaced = admin_catalog("PUT", "/v1/rewards/pastry", {**reward(), "min_tier": "Diamond"}, env=FRESH)
    assert replaced.status == 200 and replaced["min_tier"] == "Diamond"
    accepted = campaigns(campaign())
    assert accepted.status == 201, accepted.body
    assert accepted["conditions"]["all"][0]["value"] == ["Diamond"]

    # An unknown tier is still refused, and writes nothing.
    before = table_items()
    unknown = admin_catalog("POST", "/v1/rewards", reward("obsidian", min_tier="Obsidian"), env=FRESH)
    assert unknown.status == 422 and unknown["code"] == "UNKNOWN_TIER"
    assert "Diamond" in unknown["message"]  # the tiers it may name are the newest version's
    unknown = campaigns(campaign("obsidian-days", ("Diamond", "Obsidian")))
    assert unknown.status == 422 and [problem["field"] for problem in unknown["errors"]] == ["conditions.all.0.value"]
    assert "Obsidian" in unknown["errors"][0]["message"] and "Diamond" not in unknown["errors"][0]["message"].split(":")[0]
    assert table_items() == before


def test_the_newest_version_counts_even_before_it_is_in_force_and_a_warm_cache_reads_it_at_once():
    # Warm instances that cached version 1 (as deployed: for 60 s), before Diamond is published.
    assert admin_catalog("POST", "/v1/rewards", reward("tea-gold", min_tier="Gold"), instance=WARM, env=CACHED).status == 201
    assert campaigns(campaign("gold-days", ("Gold",)), instance=WARM, env=CACHED).status == 201
    later = datetime.now(timezone.utc) + timedelta(days=7)
    assert publish(diamond_program(), effective_from=later).status == 201  # in force next week only
    view = call("report", http_event("GET", "/v1/program", scopes=MEMBER, sub="user-1"), **FRESH)
    assert [tier["name"] for tier in view["tiers"]] == [tier.name for tier in PROGRAM.tiers]  # no Diamond yet

    # The same warm instances: a name their cache lacks makes them read the versions again, once.
    created = admin_catalog("POST", "/v1/rewards", reward(min_tier="Diamond"), instance=WARM, env=CACHED)
    assert created.status == 201, created.body
    assert campaigns(campaign(), instance=WARM, env=CACHED).status == 201

    # Until Diamond is in force nobody holds it, even with its points: the reward is not available to a member, and a
    # redemption is refused (not an error of the server).
    member_id = enroll("dia@example.com", scopes=MEMBER, sub="dia-sub")["member_id"]
    bought = earn(member_id, "t-1", 600_000)  # 6,000 qualifying points: Diamond's 5,000 once it is in force
    assert bought.status == 201 and bought["tier"] == "Platinum"
    mine = {item["reward_id"]: item for item in list_rewards(scopes=MEMBER, sub="dia-sub", limit="100")["items"]}
    assert mine["lounge"]["available"] is False and mine["tea-gold"]["available"] is True
    refused = redeem(member_id, "k-1", reward_id="lounge")
    assert refused.status == 422 and refused["code"] == "TIER_TOO_LOW", refused.body
