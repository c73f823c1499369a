"""The back office's campaigns (CampaignsFunction) through the handler: drafts, replace, activate, end, lists and
counters; GET /v1/program's campaigns; the CampaignActivated / CampaignEnded events from the catalog stream."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from loyalty.campaigns.api import ProgramView
from loyalty.domain.campaigns.document import parse_campaign
from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS, CounterKey
from loyalty.settings import CampaignAdminSettings, ConfigurationError, PublishedCampaignsSettings
from loyalty.store import keys
from loyalty.core.cache import Refreshed
from loyalty.campaigns.store import CampaignStore
from tests.conftest import PROGRAM, LambdaContext, call, http_event, load_function
from tests.functional.helpers import ADMIN, MEMBER, POS, table_items
from tests.functional.test_concurrency import moto_server  # noqa: F401 - the fixture
from tests.jobs.test_events import stream_records

pytestmark = pytest.mark.usefixtures("tables")

NOW = datetime.now(timezone.utc)
PAST = (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
SOON = (NOW + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
LATER = (NOW + timedelta(days=60)).strftime("%Y-%m-%dT00:00:00Z")


def coffee(**fields) -> dict:
    return {
        "campaign_id": "coffee-double", "name": "Double points on coffee",
        "description": "Coffee earns double points on weekday afternoons.",
        "starts_at": SOON, "ends_at": None,
        "schedule": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "14:00", "to": "17:00"},
        "conditions": {"all": [{"fact": "order.channel", "op": "in", "value": ["app", "store"]},
                               {"fact": "order.eligible_minor", "op": "gte", "value": 500}]},
        "applies_to": {"categories": ["coffee"], "skus": []},
        "effect": {"type": "multiply", "factor": "2"},
        "limits": [{"per": "member", "period": "day", "max_points": 200},
                   {"per": "campaign", "period": "campaign", "max_points": 100000}],
        "priority": 100, "exclusive_group": None, **fields,
    }


def campaigns(method: str, path: str, body=None, scopes: str = ADMIN, query: dict | None = None, instance: int = 0,
              env: dict | None = None):
    event = http_event(method, path, body=body, scopes=scopes, sub="back-office-1", query=query)
    return call("campaigns", event, instance, **(env or {}))


def program(scopes: str = MEMBER, instance: int = 0, env: dict | None = None):
    """GET /v1/program, from a report function that caches the campaigns as told (by default: not at all)."""
    env = env or {"CAMPAIGN_CACHE_SECONDS": "0"}
    return call("report", http_event("GET", "/v1/program", scopes=scopes, sub="app-user-1"), instance, **env)


def count(endpoint: str | None, campaign_id: str, points: int, times: int) -> None:
    """The per-campaign counter as earn transactions leave it: spread over two of its shards (the read sums them)."""
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    for shard, part_points, part_times in ((0, points // 2, times // 2), (CAMPAIGN_SHARDS - 1, points - points // 2, times - times // 2)):
        key = keys.campaign_counter(CounterKey(campaign_id, "campaign", "campaign", shard), "")
        client.put_item(TableName="StatsTable", Item={"pk": {"S": key}, "points": {"N": str(part_points)},
                                                      "times": {"N": str(part_times)}})


def round_trips(instance: int) -> list[str]:
    """DynamoDB requests a copy of CampaignsFunction makes, through its store's request hook."""
    requests: list[str] = []
    load_function("campaigns", instance).campaigns().on_request(lambda operation, params: requests.append(operation))
    return requests


# ------------------------------------------------------------------ create, read, replace


def test_a_draft_is_created_and_read_back_as_its_normalised_document():
    created = campaigns("POST", "/v1/campaigns", coffee(starts_at="2030-01-01T01:00:00+01:00"))
    assert created.status == 201, created.body
    view = created.body
    assert view["status"] == "draft" and view["activated_at"] is None and view["ended_at"] is None
    assert view["starts_at"] == "2030-01-01T00:00:00Z", "times are kept in UTC"
    assert (view["points_awarded"], view["times_applied"]) == (0, 0)
    assert view["effect"] == {"type": "multiply", "factor": "2"} and view["schedule"]["from"] == "14:00"
    assert view["conditions"]["all"][0] == {"fact": "order.channel", "op": "in", "value": ["app", "store"]}
    read = campaigns("GET", "/v1/campaigns/coffee-double")
    assert read.status == 200 and read.body == view


def test_an_id_is_generated_when_absent_and_a_taken_id_is_refused():
    body = coffee()
    del body["campaign_id"]
    first, second = campaigns("POST", "/v1/campaigns", body), campaigns("POST", "/v1/campaigns", body)
    assert first.status == second.status == 201 and first["campaign_id"] != second["campaign_id"]
    assert campaigns("GET", f"/v1/campaigns/{first['campaign_id']}")["name"] == "Double points on coffee"
    assert campaigns("POST", "/v1/campaigns", coffee()).status == 201
    before = table_items()
    taken = campaigns("POST", "/v1/campaigns", coffee(name="Other"))
    assert taken.status == 409 and taken["code"] == "CAMPAIGN_EXISTS"
    assert table_items() == before


@pytest.mark.parametrize(("fields", "field"), [
    ({"conditions": {"all": [{"fact": "order.weather", "op": "eq", "value": "sunny"}]}}, "conditions"),
    ({"conditions": {"all": [{"fact": "order.channel", "op": "like", "value": "app"}]}}, "conditions"),
    ({"conditions": {"all": [{"any": [{"all": [{"any": [{"fact": "member.tier", "op": "eq", "value": "Gold"}]}]}]}]}},
     "conditions"),
    ({"effect": {"type": "multiply", "factor": 2}}, "effect"),
    ({"effect": {"type": "cashback", "points": 5}}, "effect"),
    ({"effect": {"type": "bonus", "points": "100"}}, "effect"),
    ({"limits": [{"per": "member", "period": "day"}]}, "limits"),
    ({"limits": [{"per": "store", "period": "day", "max_points": 5}]}, "limits"),
    ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "2030-01-02T00:00:00"}, "starts_at"),
    ({"schedule": {"days": ["mon"], "from": "17:00", "to": "14:00"}}, "schedule"),
    ({"name": ""}, "name"),
    ({"campaign_id": "Coffee Double"}, "campaign_id"),
    ({"priority": "100"}, "priority"),
    ({"conditions": {"any": [{"fact": "member.tier", "op": "in", "value": ["Gold", "Diamond"]}]}}, "conditions.any.0.value"),
])
def test_bad_documents_are_refused_naming_the_field_and_write_nothing(fields, field):
    before = table_items()
    reply = campaigns("POST", "/v1/campaigns", coffee(**fields))
    assert reply.status == 422 and reply["code"] == "VALIDATION_ERROR", reply.body
    assert any(problem["field"].startswith(field) for problem in reply["errors"]), reply["errors"]
    assert table_items() == before


def test_a_condition_on_tiers_of_the_program_is_accepted():
    tiers = {"all": [{"fact": "member.tier", "op": "in", "value": ["Silver", "Gold"]}]}
    created = campaigns("POST", "/v1/campaigns", coffee(conditions=tiers))
    assert created.status == 201 and created["conditions"] == tiers


def test_a_draft_is_replaced_whole_with_the_id_from_the_path():
    campaigns("POST", "/v1/campaigns", coffee(ends_at=LATER))
    replaced = campaigns("PUT", "/v1/campaigns/coffee-double",
                         coffee(campaign_id="other-id", name="Triple coffee", effect={"type": "multiply", "factor": "3"},
                                limits=[], conditions=None, schedule=None))
    assert replaced.status == 200, replaced.body
    assert replaced["campaign_id"] == "coffee-double" and replaced["name"] == "Triple coffee"
    assert replaced["effect"]["factor"] == "3" and replaced["limits"] == [] and replaced["conditions"] is None
    assert replaced["ends_at"] is None, "a replace is the whole document"
    assert campaigns("GET", "/v1/campaigns/coffee-double").body == replaced.body
    assert campaigns("GET", "/v1/campaigns/other-id")["code"] == "CAMPAIGN_NOT_FOUND"


def test_replacing_refusals_write_nothing():
    campaigns("POST", "/v1/campaigns", coffee())
    before = table_items()
    unknown = campaigns("PUT", "/v1/campaigns/no-such", coffee())
    assert unknown.status == 404 and unknown["code"] == "CAMPAIGN_NOT_FOUND"
    invalid = campaigns("PUT", "/v1/campaigns/coffee-double", coffee(effect={"type": "bonus"}))
    assert invalid.status == 422 and invalid["code"] == "VALIDATION_ERROR"
    assert table_items() == before


def test_an_active_or_ended_campaign_is_frozen():
    campaigns("POST", "/v1/campaigns", coffee())
    assert campaigns("POST", "/v1/campaigns/coffee-double/activate").status == 200
    before = table_items()
    refused = campaigns("PUT", "/v1/campaigns/coffee-double", coffee(name="Changed"))
    assert refused.status == 409 and refused["code"] == "CAMPAIGN_NOT_EDITABLE"
    assert table_items() == before
    assert campaigns("POST", "/v1/campaigns/coffee-double/end").status == 200
    again = campaigns("PUT", "/v1/campaigns/coffee-double", coffee(name="Changed"))
    assert again.status == 409 and again["code"] == "CAMPAIGN_NOT_EDITABLE"
    assert campaigns("GET", "/v1/campaigns/coffee-double")["name"] == "Double points on coffee"


# ------------------------------------------------------------------ activate, end


def test_activation_is_idempotent_and_ending_is_too():
    campaigns("POST", "/v1/campaigns", coffee())
    active = campaigns("POST", "/v1/campaigns/coffee-double/activate")
    assert active.status == 200 and active["status"] == "active" and active["activated_at"] is not None
    assert campaigns("POST", "/v1/campaigns/coffee-double/activate").body == active.body
    ended = campaigns("POST", "/v1/campaigns/coffee-double/end")
    assert ended.status == 200 and ended["status"] == "ended" and ended["ended_at"] is not None
    assert ended["activated_at"] == active["activated_at"]
    assert campaigns("POST", "/v1/campaigns/coffee-double/end").body == ended.body
    refused = campaigns("POST", "/v1/campaigns/coffee-double/activate")
    assert refused.status == 409 and refused["code"] == "CAMPAIGN_NOT_EDITABLE"


def test_a_campaign_whose_end_has_passed_cannot_be_activated():
    campaigns("POST", "/v1/campaigns", coffee(starts_at="2020-01-01T00:00:00Z", ends_at=PAST))
    before = table_items()
    refused = campaigns("POST", "/v1/campaigns/coffee-double/activate")
    assert refused.status == 422 and refused["code"] == "VALIDATION_ERROR", refused.body
    assert refused["errors"][0]["field"] == "ends_at" and "has passed" in refused["errors"][0]["message"]
    assert "details" not in refused.body
    assert table_items() == before


def test_unknown_campaigns_are_404_everywhere():
    before = table_items()
    for method, path in (("GET", ""), ("POST", "/activate"), ("POST", "/end")):
        reply = campaigns(method, f"/v1/campaigns/no-such{path}")
        assert reply.status == 404 and reply["code"] == "CAMPAIGN_NOT_FOUND", (method, path)
    assert table_items() == before


def test_a_draft_may_be_ended_so_it_leaves_the_drafts():
    campaigns("POST", "/v1/campaigns", coffee())
    ended = campaigns("POST", "/v1/campaigns/coffee-double/end")
    assert ended.status == 200 and ended["status"] == "ended" and ended["activated_at"] is None
    assert campaigns("GET", "/v1/campaigns", query={"status": "draft"})["items"] == []


def test_an_active_campaign_past_its_ends_at_reads_as_ended_at_its_ends_at(tables):
    client = boto3.client("dynamodb", region_name="us-east-1")
    campaigns("POST", "/v1/campaigns", coffee(starts_at="2020-01-01T00:00:00Z", ends_at=LATER))
    campaigns("POST", "/v1/campaigns/coffee-double/activate")
    # Time passes: the stored end is now behind us (the document keeps it too).
    item = client.get_item(TableName="CatalogTable", Key={"pk": {"S": "CAMPAIGN"}, "sk": {"S": "coffee-double"}})["Item"]
    document = {**json.loads(item["document"]["S"]), "ends_at": PAST}
    client.put_item(TableName="CatalogTable", Item={**item, "document": {"S": json.dumps(document)},
                                                     "ends_at": {"S": (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000000+0000")}})
    read = campaigns("GET", "/v1/campaigns/coffee-double")
    assert read["status"] == "ended" and read["ended_at"] == PAST
    assert [c["campaign_id"] for c in campaigns("GET", "/v1/campaigns", query={"status": "ended"})["items"]] == ["coffee-double"]
    assert campaigns("GET", "/v1/campaigns", query={"status": "active"})["items"] == []
    before = table_items()
    assert campaigns("POST", "/v1/campaigns/coffee-double/end").body == read.body, "it has ended: nothing to write"
    assert table_items() == before


# ------------------------------------------------------------------ lists and counters


def test_lists_page_by_id_and_filter_by_status_with_counters():
    for index in range(5):
        campaigns("POST", "/v1/campaigns", coffee(campaign_id=f"c-{index}"))
    for index in (1, 3):
        campaigns("POST", f"/v1/campaigns/c-{index}/activate")
    campaigns("POST", "/v1/campaigns/c-4/activate")
    campaigns("POST", "/v1/campaigns/c-4/end")
    count(None, "c-1", 340, 7)

    first = campaigns("GET", "/v1/campaigns", query={"limit": "2"})
    assert [c["campaign_id"] for c in first["items"]] == ["c-0", "c-1"] and first["next_cursor"]
    second = campaigns("GET", "/v1/campaigns", query={"limit": "2", "cursor": first["next_cursor"]})
    third = campaigns("GET", "/v1/campaigns", query={"limit": "2", "cursor": second["next_cursor"]})
    assert [c["campaign_id"] for c in second["items"] + third["items"]] == ["c-2", "c-3", "c-4"]
    assert third["next_cursor"] is None
    assert (first["items"][1]["points_awarded"], first["items"][1]["times_applied"]) == (340, 7)

    def ids(status: str) -> list[str]:
        return [c["campaign_id"] for c in campaigns("GET", "/v1/campaigns", query={"status": status})["items"]]

    assert (ids("draft"), ids("active"), ids("ended")) == (["c-0", "c-2"], ["c-1", "c-3"], ["c-4"])
    active_page = campaigns("GET", "/v1/campaigns", query={"status": "active", "limit": "1"})
    assert [c["campaign_id"] for c in active_page["items"]] == ["c-1"]
    rest = campaigns("GET", "/v1/campaigns", query={"status": "active", "limit": "1", "cursor": active_page["next_cursor"]})
    assert [c["campaign_id"] for c in rest["items"]] == ["c-3"]


@pytest.mark.parametrize("query", [{"status": "paused"}, {"limit": "0"}, {"limit": "101"}, {"cursor": "bm9wZQ"}])
def test_bad_list_queries_are_refused(query):
    reply = campaigns("GET", "/v1/campaigns", query=query)
    assert reply.status in (400, 422) and reply["code"] in ("VALIDATION_ERROR", "INVALID_CURSOR"), reply.body


def test_a_campaign_is_read_with_its_counters():
    campaigns("POST", "/v1/campaigns", coffee())
    campaigns("POST", "/v1/campaigns/coffee-double/activate")
    assert campaigns("GET", "/v1/campaigns/coffee-double")["points_awarded"] == 0, "no counter yet: 0"
    count(None, "coffee-double", 1_250, 31)
    read = campaigns("GET", "/v1/campaigns/coffee-double")
    assert (read["points_awarded"], read["times_applied"]) == (1_250, 31)


# ------------------------------------------------------------------ scopes and round trips


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/v1/campaigns", coffee()),
    ("GET", "/v1/campaigns", None),
    ("GET", "/v1/campaigns/seeded", None),
    ("PUT", "/v1/campaigns/seeded", coffee()),
    ("POST", "/v1/campaigns/seeded/activate", None),
    ("POST", "/v1/campaigns/seeded/end", None),
])
@pytest.mark.parametrize("scopes", [POS, MEMBER])
def test_only_admin_tokens_reach_campaigns(method, path, body, scopes):
    campaigns("POST", "/v1/campaigns", coffee(campaign_id="seeded"))
    before = table_items()
    reply = campaigns(method, path, body, scopes=scopes)
    assert reply.status == 403 and reply["code"] == "FORBIDDEN"
    assert table_items() == before


def test_round_trips_per_route():
    requests = round_trips(901)

    def counted(method: str, path: str, body=None, **query) -> list[str]:
        requests.clear()
        campaigns(method, path, body, query=query or None, instance=901)
        return list(requests)

    assert counted("POST", "/v1/campaigns", coffee()) == ["PutItem"]
    assert counted("POST", "/v1/campaigns", coffee()) == ["PutItem"]  # taken
    assert counted("PUT", "/v1/campaigns/coffee-double", coffee(name="Other")) == ["UpdateItem"]
    assert counted("GET", "/v1/campaigns/coffee-double") == ["GetItem"]  # a draft has no counters
    assert counted("POST", "/v1/campaigns/coffee-double/activate") == ["UpdateItem", "BatchGetItem"]
    assert counted("POST", "/v1/campaigns/coffee-double/activate") == ["UpdateItem", "GetItem", "BatchGetItem"]
    assert counted("PUT", "/v1/campaigns/coffee-double", coffee()) == ["UpdateItem", "GetItem"]  # refused: why
    assert counted("GET", "/v1/campaigns/coffee-double") == ["GetItem", "BatchGetItem"]
    assert counted("GET", "/v1/campaigns") == ["Query", "BatchGetItem"]
    assert counted("POST", "/v1/campaigns/coffee-double/end") == ["UpdateItem", "BatchGetItem"]


# ------------------------------------------------------------------ GET /v1/program


def test_the_program_publishes_the_running_campaigns_without_their_limits():
    assert program()["campaigns"] == []
    campaigns("POST", "/v1/campaigns", coffee())
    campaigns("POST", "/v1/campaigns", coffee(campaign_id="tea-bonus", priority=5, effect={"type": "bonus", "points": 10},
                                              conditions=None, schedule=None, applies_to=None, limits=[]))
    campaigns("POST", "/v1/campaigns", coffee(campaign_id="still-draft"))
    assert program()["campaigns"] == []
    for campaign_id in ("tea-bonus", "coffee-double"):
        campaigns("POST", f"/v1/campaigns/{campaign_id}/activate")
    published = program()["campaigns"]
    assert [c["campaign_id"] for c in published] == ["coffee-double", "tea-bonus"], "evaluation order"
    assert set(published[0]) == {"campaign_id", "name", "description", "starts_at", "ends_at", "schedule", "conditions",
                                 "applies_to", "effect", "activation", "audience"}  # audience: names, never rules
    assert published[0]["effect"] == {"type": "multiply", "factor": "2"} and published[0]["starts_at"] == SOON
    assert published[1]["conditions"] is None and published[1]["effect"] == {"type": "bonus", "points": 10}
    assert program()["currency"] == "EUR", "the program's rules are still there"
    campaigns("POST", "/v1/campaigns/coffee-double/end")
    assert [c["campaign_id"] for c in program(scopes=POS)["campaigns"]] == ["tea-bonus"]


def test_the_program_reads_the_campaigns_once_per_cache_period():
    env = {"CAMPAIGN_CACHE_SECONDS": "60"}
    requests: list[str] = []
    report = load_function("report", 902, **env)
    def count(operation, params):
        requests.append(operation)

    report.parts().published.on_request(count)  # the function's stores share one client: each request counts once
    report.parts().store.on_request(count)
    cold = ["Query", "Query"]  # the active campaigns and the program's versions, each cached
    assert program(instance=902, env=env)["campaigns"] == [] and requests == cold
    campaigns("POST", "/v1/campaigns", coffee())
    campaigns("POST", "/v1/campaigns/coffee-double/activate")
    assert program(instance=902, env=env)["campaigns"] == [] and requests == cold, "warm: no round trip, 60 s old at most"
    assert [c["campaign_id"] for c in program(instance=903)["campaigns"]] == ["coffee-double"], "a cold one sees it"


def test_the_published_campaigns_are_cached_for_their_time_to_live_and_end_on_time():
    store, moment = CampaignStore.from_table("CatalogTable", "us-east-1"), [0.0]
    requests: list[str] = []
    store.on_request(lambda operation, params: requests.append(operation))
    published = Refreshed(store.active, 60, lambda: moment[0])
    assert published.get() == [] and requests == ["Query"]
    store.create(parse_campaign(coffee(ends_at=LATER)), NOW)
    store.activate("coffee-double", NOW)
    moment[0] = 59
    assert published.get() == [] and requests.count("Query") == 1
    moment[0] = 61
    assert [c.campaign_id for c in published.get()] == ["coffee-double"] and requests.count("Query") == 2
    after_its_end = datetime.fromisoformat(LATER) + timedelta(seconds=1)
    assert ProgramView.of(PROGRAM, published.get(), NOW).campaigns[0].campaign_id == "coffee-double"
    assert ProgramView.of(PROGRAM, published.get(), after_its_end).campaigns == [], "ended on time, from the cache"
    assert requests.count("Query") == 2


def test_the_campaign_settings_fail_closed():
    with pytest.raises(ConfigurationError, match="STATS_TABLE"):
        CampaignAdminSettings.from_environment({"CATALOG_TABLE": "c"})
    with pytest.raises(ConfigurationError, match="CATALOG_TABLE"):
        PublishedCampaignsSettings.from_environment({})
    with pytest.raises(ConfigurationError, match="CAMPAIGN_CACHE_SECONDS"):
        PublishedCampaignsSettings.from_environment({"CATALOG_TABLE": "c", "CAMPAIGN_CACHE_SECONDS": "61"})


# ------------------------------------------------------------------ events


def test_activation_and_end_publish_events_from_the_catalog_stream(tmp_path):
    campaigns("POST", "/v1/campaigns", coffee(ends_at=LATER))
    campaigns("PUT", "/v1/campaigns/coffee-double", coffee(ends_at=LATER, name="Coffee x2"))
    active = campaigns("POST", "/v1/campaigns/coffee-double/activate")
    campaigns("POST", "/v1/campaigns/coffee-double/activate")  # nothing changes: no second event
    ended = campaigns("POST", "/v1/campaigns/coffee-double/end")
    campaigns("POST", "/v1/campaigns", coffee(campaign_id="never-run"))
    campaigns("POST", "/v1/campaigns/never-run/end")  # a draft ended: it never applied, nothing to announce

    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    result = publisher.lambda_handler({"Records": stream_records("CatalogTable")}, LambdaContext(function_name="publish_events"))
    assert result == {"batchItemFailures": []}
    published = [json.loads(line) for line in sink.read_text().splitlines()]
    assert [(event["detail-type"], event["detail"]["at"]) for event in published] == [
        ("CampaignActivated", active["activated_at"]), ("CampaignEnded", ended["ended_at"])]
    detail = published[0]["detail"]
    assert {key: detail[key] for key in ("campaign_id", "name", "starts_at", "ends_at")} == {
        "campaign_id": "coffee-double", "name": "Coffee x2", "starts_at": SOON, "ends_at": LATER}
    assert published[0]["detail"]["event_id"] != published[1]["detail"]["event_id"]


# ------------------------------------------------------------------ a replace racing an activation


def test_a_replace_racing_an_activation_never_edits_an_active_campaign(moto_server):  # noqa: F811
    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server}
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server)
    for round_ in range(6):
        campaign_id = f"race-{round_}"
        assert campaigns("POST", "/v1/campaigns", coffee(campaign_id=campaign_id), env=env).status == 201

        with ThreadPoolExecutor(5) as pool:
            replaces = [pool.submit(campaigns, "PUT", f"/v1/campaigns/{campaign_id}", coffee(name=f"Edit {index}"),
                                    instance=10 + index, env=env) for index in range(4)]
            activated = pool.submit(campaigns, "POST", f"/v1/campaigns/{campaign_id}/activate", instance=20, env=env).result()
            replies = [future.result() for future in replaces]
        assert activated.status == 200, activated.body
        assert all(reply.status == 200 or reply["code"] == "CAMPAIGN_NOT_EDITABLE" for reply in replies), replies
        stored = client.get_item(TableName="CatalogTable", Key={"pk": {"S": "CAMPAIGN"}, "sk": {"S": campaign_id}})["Item"]
        # The active document is the one the activation froze: every replace that landed, landed before it.
        assert stored["status"]["S"] == "active"
        assert int(stored["version"]["N"]) == 1 + sum(reply.status == 200 for reply in replies)
        assert json.loads(stored["document"]["S"])["name"] == activated["name"]
