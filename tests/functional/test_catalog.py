"""The back office's catalog (CatalogFunction) and what redemptions make of it: window, limit, stock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from loyalty.clock import FixedClock
from loyalty.domain import errors
from loyalty.domain.access import Caller
from loyalty.domain.model import Reward
from loyalty.program import load_program
from loyalty.core.cache import Refreshed
from loyalty.core.programs import Programs
from loyalty.rewards.admin import CatalogAdmin
from loyalty.rewards.store import RedemptionStore
from loyalty.rewards.use_cases import Catalog, Redemptions
from loyalty.settings import DEFAULT_PROGRAM_FILE
from loyalty.rewards.catalog_store import RewardStore
from loyalty.store.models import bind_rewards
from tests.conftest import local_store, make_loyalty
from tests.functional.helpers import MEMBER, POS, admin_catalog, earn, enroll, list_rewards, redeem, table_items, view

pytestmark = pytest.mark.usefixtures("tables")

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def tea(**fields) -> dict:
    return {"reward_id": "tea", "name": "Tea", "description": "Any tea.", "kind": "free_item", "points": 10,
            "value_minor": 300, **fields}


def rich_member(email: str = "ann@example.com") -> str:
    member_id = enroll(email)["member_id"]
    earn(member_id, "t-1", 10_000)  # 150 points with the welcome bonus
    return member_id


def listed(reward_id: str, **query) -> dict | None:
    items = list_rewards(limit="100", **query)["items"]
    return next((item for item in items if item["reward_id"] == reward_id), None)


# ------------------------------------------------------------------ create, replace, retire


def test_create_answers_the_reward_and_the_catalog_lists_it():
    created = admin_catalog("POST", "/v1/rewards", tea(stock=5, per_member_limit=2, starts_at="2026-01-01T01:00:00+01:00"))
    assert created.status == 201, created.body
    assert created.body == {**tea(), "min_tier": None, "active": True, "stock": 5, "starts_at": "2026-01-01T00:00:00Z",
                            "ends_at": None, "per_member_limit": 2}
    item = listed("tea")
    assert item["per_member_limit"] == 2 and item["starts_at"] == "2026-01-01T00:00:00Z" and item["ends_at"] is None
    assert item["available"] is True


def test_a_taken_id_is_refused_and_the_stored_reward_is_untouched():
    admin_catalog("POST", "/v1/rewards", tea(stock=5))
    before = table_items()
    again = admin_catalog("POST", "/v1/rewards", tea(name="Other", stock=1))
    assert again.status == 409 and again["code"] == "REWARD_EXISTS"
    assert table_items() == before
    demo = admin_catalog("POST", "/v1/rewards", tea(reward_id="pastry"))
    assert demo.status == 409 and demo["code"] == "REWARD_EXISTS"


@pytest.mark.parametrize(("body", "status", "code"), [
    (tea(points=0), 422, "VALIDATION_ERROR"),
    (tea(points="10"), 422, "VALIDATION_ERROR"),
    (tea(value_minor=-1), 422, "VALIDATION_ERROR"),
    (tea(stock=-1), 422, "VALIDATION_ERROR"),
    (tea(kind="cash"), 422, "VALIDATION_ERROR"),
    (tea(reward_id="Tea Time"), 422, "VALIDATION_ERROR"),
    (tea(per_member_limit=0), 422, "VALIDATION_ERROR"),
    (tea(starts_at="2026-12-01T00:00:00Z", ends_at="2026-12-01T00:00:00Z"), 422, "VALIDATION_ERROR"),
    (tea(starts_at="2026-12-01T00:00:00"), 422, "VALIDATION_ERROR"),  # no time zone
    (tea(min_tier="Diamond"), 422, "UNKNOWN_TIER"),
    ({"reward_id": "tea"}, 422, "VALIDATION_ERROR"),
])
def test_bad_rewards_are_refused_and_write_nothing(body, status, code):
    before = table_items()
    reply = admin_catalog("POST", "/v1/rewards", body)
    assert (reply.status, reply["code"]) == (status, code), reply.body
    assert table_items() == before


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/v1/rewards", tea()),
    ("PUT", "/v1/rewards/pastry", tea()),
    ("DELETE", "/v1/rewards/pastry", None),
    ("POST", "/v1/rewards/beans-bag/stock", {"delta": 1}),
])
@pytest.mark.parametrize("scopes", [POS, MEMBER])
def test_only_admin_tokens_change_the_catalog(method, path, body, scopes):
    before = table_items()
    reply = admin_catalog(method, path, body, scopes=scopes)
    assert reply.status == 403 and reply["code"] == "FORBIDDEN"
    assert table_items() == before


def test_replace_changes_everything_but_the_stock():
    admin_catalog("POST", "/v1/rewards", tea(stock=5, min_tier="Gold", per_member_limit=1,
                                            ends_at="2030-01-01T00:00:00Z"))
    fields = {key: value for key, value in tea(name="Green tea", points=20).items() if key != "reward_id"}
    replaced = admin_catalog("PUT", "/v1/rewards/tea", {**fields, "stock": 99})  # a stock in the body is ignored
    assert replaced.status == 200, replaced.body
    assert replaced.body == {**tea(name="Green tea", points=20), "min_tier": None, "active": True, "stock": 5,
                             "starts_at": None, "ends_at": None, "per_member_limit": None}
    assert listed("tea")["points"] == 20


def test_replacing_or_retiring_an_unknown_reward_is_404_and_writes_nothing():
    before = table_items()
    fields = {key: value for key, value in tea().items() if key != "reward_id"}
    for method, body in (("PUT", fields), ("DELETE", None)):
        reply = admin_catalog(method, "/v1/rewards/no-such", body)
        assert reply.status == 404 and reply["code"] == "REWARD_NOT_FOUND"
    unknown_tier = admin_catalog("PUT", "/v1/rewards/pastry", {**fields, "min_tier": "Diamond"})
    assert unknown_tier.status == 422 and unknown_tier["code"] == "UNKNOWN_TIER"
    assert table_items() == before


def test_retiring_is_idempotent_and_keeps_it_out_of_the_catalog_and_of_redemptions():
    member_id = rich_member()
    first = admin_catalog("DELETE", "/v1/rewards/pastry")
    assert first.status == 200 and first["active"] is False
    assert admin_catalog("DELETE", "/v1/rewards/pastry").body == first.body
    assert listed("pastry") is None
    refused = redeem(member_id, "k-1", reward_id="pastry")
    assert refused.status == 404 and refused["code"] == "REWARD_NOT_FOUND"


# ------------------------------------------------------------------ stock


def test_stock_moves_by_deltas_and_never_below_zero():
    assert admin_catalog("POST", "/v1/rewards/beans-bag/stock", {"delta": -5}).body == {"reward_id": "beans-bag", "stock": 20}
    assert admin_catalog("POST", "/v1/rewards/beans-bag/stock", {"delta": 3})["stock"] == 23
    before = table_items()
    too_many = admin_catalog("POST", "/v1/rewards/beans-bag/stock", {"delta": -24})
    assert too_many.status == 409 and too_many["code"] == "OUT_OF_STOCK" and too_many["details"]["stock"] == 23
    assert table_items() == before
    assert admin_catalog("POST", "/v1/rewards/beans-bag/stock", {"delta": -23})["stock"] == 0


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/v1/rewards/pastry/stock", {"delta": 5}, 409, "STOCK_UNLIMITED"),
    ("/v1/rewards/pastry/stock", {"delta": -1}, 409, "STOCK_UNLIMITED"),
    ("/v1/rewards/no-such/stock", {"delta": 5}, 404, "REWARD_NOT_FOUND"),
    ("/v1/rewards/beans-bag/stock", {"delta": 0}, 422, "VALIDATION_ERROR"),
    ("/v1/rewards/beans-bag/stock", {"delta": 1.5}, 422, "VALIDATION_ERROR"),
    ("/v1/rewards/beans-bag/stock", {}, 422, "VALIDATION_ERROR"),
])
def test_refused_stock_changes_write_nothing(path, body, status, code):
    before = table_items()
    reply = admin_catalog("POST", path, body)
    assert (reply.status, reply["code"]) == (status, code), reply.body
    assert table_items() == before


# ------------------------------------------------------------------ what redemptions make of it


def test_a_reward_outside_its_window_is_listed_as_unavailable_and_refused():
    member_id = rich_member()
    admin_catalog("POST", "/v1/rewards", tea(starts_at=(NOW + timedelta(days=1)).isoformat()))
    admin_catalog("POST", "/v1/rewards", tea(reward_id="old-tea", ends_at=(NOW - timedelta(seconds=1)).isoformat()))
    for reward_id in ("tea", "old-tea"):
        assert listed(reward_id)["available"] is False
        before = table_items()
        refused = redeem(member_id, f"k-{reward_id}", reward_id=reward_id)
        assert refused.status == 422 and refused["code"] == "REWARD_NOT_AVAILABLE", refused.body
        assert table_items() == before
    fields = {key: value for key, value in tea().items() if key != "reward_id"}
    admin_catalog("PUT", "/v1/rewards/tea", {**fields, "starts_at": (NOW - timedelta(days=1)).isoformat()})
    assert redeem(member_id, "k-now", reward_id="tea").status == 201


def test_a_member_redeems_a_limited_reward_up_to_its_limit():
    member_id, other_id = rich_member(), rich_member("bob@example.com")
    admin_catalog("POST", "/v1/rewards", tea(per_member_limit=2))
    assert redeem(member_id, "k-1", reward_id="tea").status == 201
    assert redeem(member_id, "k-1", reward_id="tea").status == 200  # a replay is not a second redemption
    assert redeem(member_id, "k-2", reward_id="tea").status == 201
    balance = view(member_id)["points_balance"]
    refused = redeem(member_id, "k-3", reward_id="tea")
    assert refused.status == 409 and refused["code"] == "REWARD_LIMIT_REACHED" and refused["details"]["per_member_limit"] == 2
    assert view(member_id)["points_balance"] == balance
    assert redeem(other_id, "k-1", reward_id="tea").status == 201  # the limit is per member


def test_a_limit_set_later_counts_the_redemptions_made_before_it():
    member_id = rich_member()
    assert redeem(member_id, "k-1", reward_id="pastry").status == 201
    fields = {key: value for key, value in listed("pastry").items() if key not in ("reward_id", "available")}
    admin_catalog("PUT", "/v1/rewards/pastry", {**fields, "per_member_limit": 1})
    refused = redeem(member_id, "k-2", reward_id="pastry")
    assert refused.status == 409 and refused["code"] == "REWARD_LIMIT_REACHED"


def test_the_store_enforces_the_limit_even_when_the_read_count_is_stale():
    """The count read with the member is only the early answer: the transaction's condition is what holds."""
    uc = make_loyalty(at=NOW)
    member_id = rich_member()
    admin_catalog("POST", "/v1/rewards", tea(per_member_limit=1))
    uc.redeem(uc_staff(), member_id, idempotency_key="k-1", payload={"k": 1}, reward_id="tea")

    class StaleStore(RedemptionStore):  # answers the count as read before the first redemption landed
        def get_for_redemption(self, member_id, ref, reward_id):
            member, entry, _ = super().get_for_redemption(member_id, ref, reward_id)
            return member, entry, 0

    stale_store = StaleStore(uc.store)
    stale = Redemptions(uc.store, stale_store, Catalog(stale_store.rewards), FixedClock(NOW), uc.redemptions.programs)
    with pytest.raises(errors.RewardLimitReached):
        stale.redeem(uc_staff(), member_id, idempotency_key="k-2", payload={"k": 2}, reward_id="tea")
    assert view(member_id)["points_balance"] == 140


def uc_staff() -> Caller:
    return Caller(sub="terminal-1", scopes=frozenset({POS}), client_id="client")


def test_catalog_changes_reach_a_warm_function_within_its_cache_time():
    env = {"CATALOG_CACHE_SECONDS": "60"}
    assert listed_with(env, "tea") is None
    admin_catalog("POST", "/v1/rewards", tea())
    assert listed_with(env, "tea") is None, "cached for 60 s"
    assert listed_with({"CATALOG_CACHE_SECONDS": "0"}, "tea") is not None


def listed_with(env: dict, reward_id: str) -> dict | None:
    items = list_rewards(env=env, limit="100")["items"]
    return next((item for item in items if item["reward_id"] == reward_id), None)


# ------------------------------------------------------------------ round trips


def test_round_trips_of_the_catalog_routes_and_a_limited_redemption():
    admin = CatalogAdmin(RewardStore(bind_rewards("CatalogTable", "us-east-1")),
                         Programs.fixed(load_program(DEFAULT_PROGRAM_FILE), FixedClock(NOW)))
    requests: list[str] = []
    admin.rewards.on_request(lambda operation, params: requests.append(operation))

    def counted(action) -> list[str]:
        requests.clear()
        try:
            action()
        except Exception:  # noqa: BLE001 - the refusals are counted too
            pass
        return list(requests)

    assert counted(lambda: admin.create(Reward("tea", "Tea", "", "perk", 10, 0, stock=3))) == ["PutItem"]
    assert counted(lambda: admin.create(Reward("tea", "Tea", "", "perk", 10, 0))) == ["PutItem"]
    assert counted(lambda: admin.replace(Reward("tea", "Tea", "", "perk", 12, 0, per_member_limit=1))) == ["UpdateItem"]
    assert counted(lambda: admin.change_stock("tea", -1)) == ["UpdateItem"]
    assert counted(lambda: admin.change_stock("tea", -5)) == ["UpdateItem", "GetItem"]  # refused: why
    assert counted(lambda: admin.retire("pastry")) == ["UpdateItem"]

    uc = make_loyalty(at=NOW, store=local_store())
    cached = Refreshed(RedemptionStore(uc.store).rewards, 60)
    uc.redemptions.catalog = Catalog(cached.get)
    member_id = rich_member()
    cached.get()  # warm
    operations: list[str] = []
    uc.store.on_request(lambda operation, params: operations.append(operation))
    uc.redeem(uc_staff(), member_id, idempotency_key="k-1", payload={"k": 1}, reward_id="tea")
    assert operations == ["TransactGetItems", "TransactWriteItems"]


def test_the_redemption_counter_in_the_members_stream_publishes_no_event():
    from loyalty import events
    from tests.jobs.test_events import stream_records

    member_id = rich_member()
    assert redeem(member_id, "k-1", reward_id="pastry").status == 201
    records = stream_records("MembersTable")
    counters = [record for record in records if record["dynamodb"]["Keys"]["pk"]["S"].startswith("RC#")]
    assert counters and events.from_stream(counters) == []
    assert {event.detail_type for event in events.from_stream(records)} == {"MemberEnrolled"}


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_at_the_calendars_edge_is_a_422_not_a_500(moment):
    before = table_items()
    reply = admin_catalog("POST", "/v1/rewards", tea(starts_at=moment))
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR"), reply.body
    assert table_items() == before


def test_a_replayed_redemption_is_answered_even_where_the_catalog_cache_has_not_seen_the_reward():
    member_id = enroll("cache@example.com")["member_id"]
    earn(member_id, "t-cache", 10_000)
    stale = list_rewards(env={"CATALOG_CACHE_SECONDS": "3600"})  # instance 0 caches the catalog without the new reward
    assert stale.status == 200
    assert admin_catalog("POST", "/v1/rewards", tea(reward_id="fresh-tea")).status == 201
    first = redeem(member_id, "k-cache", instance=1, reward_id="fresh-tea")  # a fresh instance sees it
    assert first.status == 201, first.body
    again = redeem(member_id, "k-cache", env={"CATALOG_CACHE_SECONDS": "3600"}, reward_id="fresh-tea")
    assert (again.status, again.body) == (200, first.body)
