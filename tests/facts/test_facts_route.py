"""GET /v1/members/{member_id}/facts and the attributes of PATCH /v1/members/{member_id} (issue 22, item 1)."""

from __future__ import annotations

import pytest

from tests.conftest import call, http_event, load_function
from tests.functional.helpers import ADMIN, MEMBER, POS, earn, enroll, redeem, return_points, table_items
from tests.functional.test_profile import patch


@pytest.fixture(autouse=True)
def _tables(tables):
    return tables


def facts(member_id: str, scopes: str = POS, sub: str | None = "terminal-1", instance: int = 0, **env):
    return call("report", http_event("GET", f"/v1/members/{member_id}/facts", scopes=scopes, sub=sub), instance, **env)


CACHED = {"CAMPAIGN_CACHE_SECONDS": "60"}  # as deployed: the tests' default reads campaigns and segments every call


def test_the_facts_follow_earns_returns_and_redemptions():
    member_id = enroll(channel="app", marketing_opt_in=True)["member_id"]
    first = facts(member_id)
    assert first.status == 200, first.body
    assert (first["purchase_count"], first["spend_minor"], first["avg_basket_minor"], first["last_purchase_at"],
            first["days_since_last_purchase"], first["rfm"]) == (0, 0, None, None, None, None)
    assert (first["channel"], first["marketing_opt_in"], first["enrolled_days"], first["tier"]) == (
        "app", True, 0, "Bronze")
    items = [{"sku": "latte", "category": "coffee", "amount_minor": 450, "quantity": 1},
             {"sku": "bun", "category": "bakery", "amount_minor": 550, "quantity": 1}]
    assert earn(member_id, "t-1", 1000, items=items).status == 201
    assert earn(member_id, "t-2", 3000).status == 201
    assert return_points(member_id, "t-2", "r-1", 3000).status == 201  # refunded in full: stops counting in 90 days
    assert redeem(member_id, "k-1", points=10).status == 201
    seen = facts(member_id)
    assert (seen["purchase_count"], seen["spend_minor"], seen["avg_basket_minor"]) == (2, 1000, 500)
    assert (seen["purchases_90d"], seen["spend_90d_minor"], seen["categories_90d"]) == (1, 1000, ["bakery", "coffee"])
    assert (seen["redemptions_count"], seen["days_since_last_redemption"], seen["days_since_last_purchase"]) == (1, 0, 0)
    assert seen["points_balance"] == 50 + 10 + 30 - 30 - 10
    assert seen["segments"] == [] and seen["held_out"] is None, "a pos token never sees holdout assignments"
    assert not {"email", "name", "phone", "birthday"} & set(seen.body), "facts are pseudonymous"


def test_a_member_reads_only_its_own_facts_and_admin_sees_holdouts():
    mine = enroll("ann@example.com", scopes=MEMBER, sub="ann-sub")["member_id"]
    other = enroll("bob@example.com")["member_id"]
    assert facts("me", scopes=MEMBER, sub="ann-sub")["member_id"] == mine
    assert facts(other, scopes=MEMBER, sub="ann-sub").status in (403, 404)
    assert facts(other, scopes=ADMIN, sub="admin-1")["held_out"] == {}


def test_facts_take_one_read_once_the_segments_are_cached():
    member_id = enroll()["member_id"]
    facts(member_id, instance=3, **CACHED)  # loads the function with its cache as deployed
    requests: list[str] = []
    load_function("report", 3, **CACHED).parts().store.on_request(lambda operation, params: requests.append(operation))
    assert facts(member_id, scopes=ADMIN, sub="a", instance=3, **CACHED).status == 200  # the campaigns' cache fills
    requests.clear()
    assert facts(member_id, instance=3, **CACHED).status == 200
    assert facts(member_id, scopes=ADMIN, sub="a", instance=3, **CACHED).status == 200
    assert requests == ["GetItem", "GetItem"], "warm: one read each (admin's holdouts from the campaigns' cache too)"


def test_attributes_are_set_merged_and_removed_by_staff():
    member_id = enroll()["member_id"]
    reply = patch(member_id, {"attributes": {"store_card": True, "home_store": "s-12", "visits": 4}})
    assert reply.status == 200, reply.body
    assert facts(member_id)["attributes"] == {"store_card": True, "home_store": "s-12", "visits": 4}
    assert patch(member_id, {"attributes": {"visits": None, "segment_hint": "b2b"}}, scopes=ADMIN, sub="a").status == 200
    assert facts(member_id)["attributes"] == {"store_card": True, "home_store": "s-12", "segment_hint": "b2b"}


@pytest.mark.parametrize("attributes", [
    {f"a{index}": index for index in range(21)},  # more than 20 in one request
    {"Bad-Name": 1},
    {"price": 1.5},  # integers only
    {"nested": {"a": 1}},
    {"text": "x" * 201},
    {"text": "nul\x00"},
])
def test_bad_attributes_are_refused_and_write_nothing(attributes):
    member_id = enroll()["member_id"]
    before = table_items()
    reply = patch(member_id, {"attributes": attributes})
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR"), reply.body
    assert table_items() == before


def test_more_than_twenty_in_all_is_refused_and_a_member_may_not_set_them():
    member_id = enroll("ann@example.com", scopes=MEMBER, sub="ann-sub")["member_id"]
    assert patch(member_id, {"attributes": {f"a{index}": index for index in range(15)}}).status == 200
    before = table_items()
    reply = patch(member_id, {"attributes": {f"b{index}": index for index in range(6)}})
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR"), reply.body
    assert patch("me", {"attributes": {"vip": True}}, scopes=MEMBER, sub="ann-sub").status == 403
    assert table_items() == before


def test_erasure_clears_the_attributes_and_the_facts_answer_404():
    import boto3

    member_id = enroll()["member_id"]
    assert patch(member_id, {"attributes": {"nickname": "Annie"}}).status == 200
    erased = call("enroll", http_event("DELETE", f"/v1/members/{member_id}", scopes=ADMIN, sub="admin-1"))
    assert erased.status == 200, erased.body
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="MembersTable", Key={"pk": {"S": f"M#{member_id}"}})["Item"]
    assert item.get("attributes", {"M": {}}) == {"M": {}}, "the business's values may name the person"
    assert facts(member_id).status == 404
