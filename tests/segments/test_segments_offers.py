"""Segments (admin CRUD), audiences, activation and holdout in earn, preview and offers, through the functions
(issue 22, items 2 and 3)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from loyalty.domain.holdout import held_out
from tests.conftest import call, http_event, load_function
from tests.functional.helpers import ADMIN, MEMBER, POS, enroll, table_items
from tests.functional.test_campaign_earn import FRESH, INSTANCE, activate, earn, preview

pytestmark = pytest.mark.usefixtures("tables")

LAPSED = {"segment_id": "coffee-buyers", "name": "Coffee buyers", "description": "Bought coffee in 90 days",
          "conditions": {"all": [{"fact": "member.categories_90d", "op": "contains", "value": "coffee"}]}}
COFFEE = [{"sku": "LATTE", "category": "coffee", "amount_minor": 1000, "quantity": 1}]


def admin(method: str, path: str, body=None):
    return call("campaigns", http_event(method, path, body=body, scopes=ADMIN, sub="admin-1"))


def offers(member_id: str, scopes: str = POS, sub: str | None = "terminal-1", instance: int = INSTANCE):
    return call("earn", http_event("GET", f"/v1/members/{member_id}/offers", scopes=scopes, sub=sub), instance, **FRESH)


def activate_offer(member_id: str, campaign_id: str, scopes: str = POS, sub: str | None = "terminal-1"):
    event = http_event("POST", f"/v1/members/{member_id}/offers/{campaign_id}/activate", scopes=scopes, sub=sub)
    return call("earn", event, INSTANCE, **FRESH)


def bonus(campaign_id: str, **fields) -> dict:
    return {"campaign_id": campaign_id, "name": campaign_id, "description": f"about {campaign_id}",
            "effect": {"type": "bonus", "points": 100}, **fields}


# ------------------------------------------------------------------ segments


def test_segment_crud_and_validation():
    created = admin("POST", "/v1/segments", LAPSED)
    assert created.status == 201, created.body
    assert admin("POST", "/v1/segments", LAPSED)["code"] == "SEGMENT_EXISTS"
    assert admin("GET", "/v1/segments/coffee-buyers")["name"] == "Coffee buyers"
    replaced = admin("PUT", "/v1/segments/coffee-buyers", {**LAPSED, "name": "Coffee lovers"})
    assert (replaced.status, replaced["name"]) == (200, "Coffee lovers")
    assert admin("POST", "/v1/segments", {**LAPSED, "segment_id": "b-seg"}).status == 201
    page = call("campaigns", http_event("GET", "/v1/segments", scopes=ADMIN, sub="a", query={"limit": "1"}))
    assert [item["segment_id"] for item in page["items"]] == ["b-seg"] and page["next_cursor"]
    rest = call("campaigns", http_event("GET", "/v1/segments", scopes=ADMIN, sub="a",
                                        query={"limit": "1", "cursor": page["next_cursor"]}))
    assert [item["segment_id"] for item in rest["items"]] == ["coffee-buyers"] and rest["next_cursor"] is None
    assert admin("DELETE", "/v1/segments/b-seg").status == 200
    assert admin("GET", "/v1/segments/b-seg")["code"] == "SEGMENT_NOT_FOUND"
    assert call("campaigns", http_event("GET", "/v1/segments", scopes=POS, sub="t")).status == 403


@pytest.mark.parametrize("conditions, field", [
    ({"all": [{"fact": "order.channel", "op": "eq", "value": "app"}]}, "conditions"),  # an order fact
    ({"all": [{"fact": "member.unknown", "op": "eq", "value": 1}]}, "conditions.all.0.fact"),
    ({"all": [{"fact": "member.tier", "op": "contains", "value": "x"}]}, "conditions.all.0"),
    ({"all": [{"fact": "member.categories_90d", "op": "eq", "value": "x"}]}, "conditions.all.0"),
    ({"all": [{"fact": "member.spend_minor", "op": "exists", "value": 1}]}, "conditions.all.0"),
    ({"all": [{"any": [{"all": [{"any": [{"fact": "member.tier", "op": "eq", "value": "Gold"}]}]}]}]}, "conditions"),
])
def test_a_bad_segment_is_refused_and_writes_nothing(conditions, field):
    before = table_items()
    reply = admin("POST", "/v1/segments", {**LAPSED, "conditions": conditions})
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR"), reply.body
    assert reply["errors"][0]["field"].startswith(field), reply.body
    assert table_items() == before


def test_a_segment_in_an_active_campaigns_audience_cannot_be_retired():
    admin("POST", "/v1/segments", LAPSED)
    before = table_items()
    unknown = admin("POST", "/v1/campaigns", bonus("uses-it", audience={"segments": ["nope"]}))
    assert (unknown.status, unknown["code"], unknown["errors"][0]["field"]) == (422, "VALIDATION_ERROR", "audience")
    assert table_items() == before
    assert admin("POST", "/v1/campaigns", bonus("uses-it", audience={"exclude_segments": ["coffee-buyers"]})).status == 201
    assert admin("POST", "/v1/campaigns/uses-it/activate").status == 200
    assert admin("DELETE", "/v1/segments/coffee-buyers")["code"] == "SEGMENT_IN_USE"
    admin("POST", "/v1/campaigns/uses-it/end")
    assert admin("DELETE", "/v1/segments/coffee-buyers").status == 200


# ------------------------------------------------------------------ audience, activation, holdout


def test_audience_and_activation_in_preview_earn_and_offers():
    admin("POST", "/v1/segments", LAPSED)
    activate(bonus("for-coffee", audience={"segments": ["coffee-buyers"]}),
             bonus("opt-in", activation="required"))
    member_id = enroll()["member_id"]
    seen = preview(member_id, items=COFFEE, amount_minor=1000)
    assert {entry["campaign_id"]: entry["reason"] for entry in seen["not_applied"]} == {
        "for-coffee": "NOT_IN_AUDIENCE", "opt-in": "NOT_ACTIVATED"}
    listed = offers(member_id)
    assert [(item["campaign_id"], item["activated"]) for item in listed["items"]] == [("opt-in", False)]
    first = earn(member_id, "t-1", amount_minor=1000, items=COFFEE)  # now a coffee buyer: in the segment after it
    assert [line["campaign_id"] for line in first["breakdown"] if line["source"] == "campaign"] == []
    activated = activate_offer(member_id, "opt-in")
    assert activated.status == 200 and activated["campaign_id"] == "opt-in"
    assert activate_offer(member_id, "opt-in").body == activated.body, "idempotent: the first activation's time"
    second = earn(member_id, "t-2", amount_minor=1000, items=COFFEE)
    assert sorted(line["campaign_id"] for line in second["breakdown"] if line["source"] == "campaign") == [
        "for-coffee", "opt-in"]
    assert [(item["campaign_id"], item["activated"]) for item in offers(member_id)["items"]] == [
        ("for-coffee", False), ("opt-in", True)]


def test_offers_say_what_is_left_and_end_soonest_first():
    soon = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    later = (datetime.now(timezone.utc) + timedelta(days=9)).isoformat()
    activate(bonus("daily", limits=[{"per": "member", "period": "day", "max_times": 2},
                                    {"per": "campaign", "period": "campaign", "max_points": 10_000}], ends_at=later),
             bonus("soon", ends_at=soon), bonus("gold-only", conditions={
                 "all": [{"fact": "member.tier", "op": "eq", "value": "Gold"}]}))
    member_id = enroll()["member_id"]
    assert [item["campaign_id"] for item in offers(member_id)["items"]] == ["soon", "daily"], "not gold: not offered"
    earn(member_id, "t-1", amount_minor=1000, items=COFFEE)
    daily = {item["campaign_id"]: item for item in offers(member_id)["items"]}["daily"]
    assert daily["remaining"] == {"points": 10_000 - 100, "times": 1}
    earn(member_id, "t-2", amount_minor=1000, items=COFFEE)
    assert [item["campaign_id"] for item in offers(member_id)["items"]] == ["soon"], "no room left today"


def test_offers_take_at_most_two_round_trips():
    activate(*(bonus(f"c{index:02d}", limits=[{"per": "member", "period": "day", "max_points": 500}]) for index in range(16)))
    member_id = enroll("ann@example.com", scopes=MEMBER, sub="ann-sub")["member_id"]
    cached = {"CAMPAIGN_CACHE_SECONDS": "60"}  # as deployed
    event = http_event("GET", "/v1/members/me/offers", scopes=MEMBER, sub="ann-sub")
    assert len(call("earn", event, 77, **cached)["items"]) == 16  # warm: the campaigns' cache
    requests: list[str] = []
    load_function("earn", 77, **cached).parts().store.on_request(lambda operation, params: requests.append(operation))
    assert len(call("earn", event, 77, **cached)["items"]) == 16
    assert requests == ["GetItem", "BatchGetItem"], "the SUB# marker for me; the member with its counters"
    assert len(call("earn", http_event("GET", f"/v1/members/{member_id}/offers"), 77, **cached)["items"]) == 16
    assert requests[2:] == ["BatchGetItem"]


def test_held_out_members_see_nothing_and_only_admin_learns_it():
    activate(bonus("half-out", holdout_percent=50))
    members = [enroll(f"m{index}@example.com")["member_id"] for index in range(12)]
    out = [member_id for member_id in members if held_out("half-out", member_id, 50)]
    kept = [member_id for member_id in members if member_id not in out]
    assert out and kept, "12 members: some on each side (the hash is fixed by the ids)"
    for member_id in out:
        assert "half-out" not in {entry["campaign_id"] for entry in preview(member_id)["not_applied"]}
        assert offers(member_id)["items"] == []
        assert earn(member_id, "t-1", amount_minor=1000, items=COFFEE)["points"] == 10, "no campaign points"
        assert activate_offer(member_id, "half-out")["code"] == "OFFER_NOT_FOUND"
        facts = call("report", http_event("GET", f"/v1/members/{member_id}/facts", scopes=ADMIN, sub="a"))
        assert facts["held_out"] == {"half-out": True}
        assert call("report", http_event("GET", f"/v1/members/{member_id}/facts", scopes=POS, sub="t"))["held_out"] is None
    for member_id in kept:
        assert earn(member_id, "t-1", amount_minor=1000, items=COFFEE)["points"] == 110
        assert [item["campaign_id"] for item in offers(member_id)["items"]] == ["half-out"]


def test_activation_refusals():
    activate(bonus("auto"))
    member_id = enroll()["member_id"]
    automatic = activate_offer(member_id, "auto")
    assert automatic.status == 200, "an offer that needs no activation may be activated all the same (a client may not know)"
    assert [(item["campaign_id"], item["activated"]) for item in offers(member_id)["items"]] == [("auto", True)]
    assert activate_offer(member_id, "unknown")["code"] == "OFFER_NOT_FOUND"
    other = enroll("bob@example.com", scopes=MEMBER, sub="bob-sub")["member_id"]
    assert activate_offer(member_id, "auto", scopes=MEMBER, sub="bob-sub").status in (403, 404)
    assert offers(member_id, scopes=MEMBER, sub="bob-sub").status in (403, 404)
    assert other


def test_many_activations_at_once_write_one():
    activate(bonus("req", activation="required"))
    member_id = enroll()["member_id"]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: activate_offer(member_id, "req"), range(8)))
    assert {reply.status for reply in replies} == {200}
    assert len({reply["activated_at"] for reply in replies}) == 1
