"""The program's versions end to end: publishing through ProgramFunction (the list, GET /v1/program, 422s that write
nothing, the event), purchases earning under the version in force at their time (a property test against an
independent computation), returns taking back what the purchase earned, and a new version reaching the earn
function within 60 s of its effective_from on the business clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty import events
from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from loyalty.program import SEED_EFFECTIVE_FROM, Program, ProgramHistory, ProgramVersion
from tests.conftest import PROGRAM, call, http_event, make_loyalty
from tests.functional.helpers import ADMIN, MEMBER, POS, earn, enroll, table_items

STAFF = Caller("terminal-1", frozenset({POS_SCOPE}))
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=timezone.utc)
FRESH = {"PROGRAM_CACHE_SECONDS": "0"}  # instances that read the versions on every call: these tests publish them


def document(program: Program = PROGRAM, **changes) -> dict:
    """A program document as GET /v1/program answers it, with `changes` merged into its sections."""
    body = json.loads(program.model_dump_json())
    for name, value in changes.items():
        body[name] = {**body[name], **value} if isinstance(value, dict) else value
    return body


def publish(body: dict, scopes: str = ADMIN, sub: str | None = "admin-ann", env: dict | None = None, instance: int = 0):
    event = http_event("POST", "/v1/program/versions", body=body, scopes=scopes, sub=sub)
    return call("program", event, instance, **(FRESH if env is None else env))


def versions(env: dict | None = None):
    return call("program", http_event("GET", "/v1/program/versions", scopes=ADMIN, sub="admin-ann"), **(env or FRESH))


def program_view(env: dict | None = None):
    return call("report", http_event("GET", "/v1/program", scopes=MEMBER, sub="user-1"), **(env or FRESH))


def at(moment: datetime, clock_file) -> dict:
    """The environment that runs the handlers as if it were `moment` (the local runtime's business clock)."""
    clock_file.write_text(json.dumps({"offset_seconds": (moment - datetime.now(timezone.utc)).total_seconds()}))
    return {"LOCAL_CLOCK_FILE": str(clock_file)}


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------ publishing


@pytest.mark.usefixtures("tables")
def test_the_first_version_is_the_program_file_and_a_publish_takes_the_next_number():
    listed = versions()
    assert listed.status == 200 and [item["version"] for item in listed["items"]] == [1]
    seed = listed["items"][0]
    assert seed["published_by"] == "seed" and seed["earn"] == document()["earn"] and seed["tiers"] == document()["tiers"]
    start = datetime.now(timezone.utc) + timedelta(days=7)
    read = program_view().body
    assert (read["version"], read["effective_from"]) == (1, rfc3339(SEED_EFFECTIVE_FROM))
    body = {**read, "earn": {**read["earn"], "points_per_unit": 2}, "effective_from": rfc3339(start),
            "note": "Holiday double points"}  # what GET answered, changed: its version and campaigns are ignored
    published = publish(body)
    assert published.status == 201, published.body
    assert published["version"] == 2 and published["earn"]["points_per_unit"] == 2
    assert (published["published_by"], published["note"], published["effective_from"]) == ("admin-ann", "Holiday double points", rfc3339(start))
    listed = versions()
    assert [item["version"] for item in listed["items"]] == [2, 1]  # newest first; the seed is now stored
    assert listed["items"][1]["published_by"] == "seed"
    assert program_view()["version"] == 1  # version 2 starts next week


@pytest.mark.usefixtures("tables")
def test_without_effective_from_a_version_is_in_force_at_once_and_earns_with_its_version_on_the_entry():
    assert publish(document(earn={"points_per_unit": 3}, name="Bean There Triple")).status == 201
    view = program_view()
    assert (view["version"], view["name"], view["earn"]["points_per_unit"]) == (2, "Bean There Triple", 3)
    member_id = enroll(env=FRESH)["member_id"]
    earned = earn(member_id, "t-1", 1000, env=FRESH)
    assert earned.status == 201 and (earned["points"], earned["base_points"], earned["program_version"]) == (30, 30, 2)
    feed = call("report", http_event("GET", f"/v1/members/{member_id}/activity"), **FRESH)
    assert [(item["type"], item.get("program_version")) for item in feed["items"]] == [("earn", 2), ("bonus", None)]
    exported = call("report", http_event("GET", f"/v1/members/{member_id}/export", scopes=ADMIN, sub="admin-ann"), **FRESH)
    assert [entry.get("program_version") for entry in exported["activity"] if entry["type"] == "earn"] == [2]


@pytest.mark.usefixtures("tables")
def test_each_breakdown_line_names_the_version_in_every_view_and_a_return_names_its_purchase_s():
    assert publish(document(earn={"points_per_unit": 3})).status == 201  # version 2, at once
    member_id = enroll(env=FRESH)["member_id"]
    body = {"transaction_id": "t-1", "amount_minor": 1000, "currency": "EUR"}
    previewed = call("earn", http_event("POST", f"/v1/members/{member_id}/earn/preview", body=body), **FRESH)
    earned = earn(member_id, "t-1", 1000, env=FRESH)
    replayed = earn(member_id, "t-1", 1000, env=FRESH)  # answered from the stored entry
    feed = call("report", http_event("GET", f"/v1/members/{member_id}/activity"), **FRESH)
    exported = call("report", http_event("GET", f"/v1/members/{member_id}/export", scopes=ADMIN, sub="admin-ann"), **FRESH)
    explained = [previewed.body, earned.body, replayed.body, feed["items"][0],
                 next(entry for entry in exported["activity"] if entry["type"] == "earn")]
    for answer in explained:
        assert answer["program_version"] == 2
        assert answer["breakdown"] == [{"source": "base", "campaign_id": None, "points": 30, "program_version": 2}]

    assert publish(document(earn={"points_per_unit": 5})).status == 201  # version 3, at once
    body = {"transaction_id": "t-1", "return_id": "r-1", "amount_minor": 500}
    returned = call("earn", http_event("POST", f"/v1/members/{member_id}/returns", body=body), **FRESH)
    assert returned.status == 201 and (returned["points"], returned["program_version"]) == (-15, 2)  # half of 30
    feed = call("report", http_event("GET", f"/v1/members/{member_id}/activity"), **FRESH)
    assert [(item["type"], item.get("program_version")) for item in feed["items"]] == [
        ("return", 2), ("earn", 2), ("bonus", None)]


def test_a_tier_added_since_the_purchase_s_version_earns_today_s_multiplier_and_its_line_says_so(tables):
    bronze = PROGRAM.tiers[0]
    first = PROGRAM.model_copy(update={"tiers": [bronze]})
    diamond = bronze.model_copy(update={"name": "Diamond", "min_qualifying_points": 100, "earn_multiplier": Decimal(3)})
    second = PROGRAM.model_copy(update={"tiers": [bronze, diamond]})
    history = ProgramHistory((ProgramVersion(1, SEED_EFFECTIVE_FROM, first, SEED_EFFECTIVE_FROM, "seed", None),
                              ProgramVersion(2, NOW - timedelta(days=1), second, NOW - timedelta(days=2), "admin", None)))
    uc = make_loyalty(at=NOW, programs=Programs(lambda: history, FixedClock(NOW)))
    member_id = uc.enroll(STAFF, email="dia@example.com", channel="store").member_id
    now_entry = uc.earn(STAFF, member_id, Purchase("t-1", 20_000, "EUR"), payload={"t": 1}).entry  # 200: Diamond
    assert (now_entry.tier_after, now_entry.program_version) == ("Diamond", 2)
    # Bought two days ago (version 1, which had no Diamond): version 1's base, Diamond's multiplier of version 2.
    old = uc.earn(STAFF, member_id, Purchase("t-2", 1_000, "EUR", occurred_at=NOW - timedelta(days=2)),
                  payload={"t": 2}).entry
    expected = [("base", 10, 1), ("tier", 10 * 3 - 10, 2)]
    assert old.program_version == 1
    _, stored = uc.store.get_member_and_entries(member_id, [old.ref])
    for lines in (old.breakdown, stored[old.ref].breakdown):
        assert [(line.source, line.points, line.program_version) for line in lines] == expected


@pytest.mark.parametrize(("changes", "fields"), [
    ({"tiers": document()["tiers"][:-1]}, ["tiers"]),  # Platinum removed
    ({"currency": "USD"}, ["currency"]),
    ({"time_zone": "Europe/Paris"}, ["time_zone"]),
    ({"effective_from": "2020-01-01T00:00:00Z"}, ["effective_from"]),
    ({"currency": "USD", "time_zone": "Asia/Tokyo", "tiers": document()["tiers"][:2]}, ["currency", "time_zone", "tiers"]),
])
@pytest.mark.usefixtures("tables")
def test_a_version_that_needs_a_migration_or_starts_in_the_past_is_422_and_changes_nothing(changes, fields):
    before = table_items()
    refused = publish({**document(), **changes})
    assert refused.status == 422 and refused["code"] == "VALIDATION_ERROR"
    assert sorted(problem["field"] for problem in refused["errors"]) == sorted(fields)
    assert table_items() == before
    assert [item["version"] for item in versions()["items"]] == [1]


@pytest.mark.parametrize("body", [
    {**document(), "tiers": list(reversed(document()["tiers"]))},  # thresholds must ascend from 0
    {**document(), "earn": {**document()["earn"], "points_per_unit": "2"}},  # a number as a string
    {**document(), "earn": {**document()["earn"], "points_per_unit": 0}},
    {**document(), "qualifying_window_months": "12"},
    {**document(), "time_zone": "Mars/Olympus"},
    {**document(), "note": "bad\x00note"},
    {key: value for key, value in document().items() if key != "earn"},
])
@pytest.mark.usefixtures("tables")
def test_a_document_the_program_file_could_not_be_is_422_and_changes_nothing(body):
    before = table_items()
    refused = publish(body)
    assert refused.status == 422 and refused["code"] == "VALIDATION_ERROR", refused.body
    assert table_items() == before


@pytest.mark.usefixtures("tables")
def test_a_version_may_not_start_before_the_newest_one():
    later = datetime.now(timezone.utc) + timedelta(days=10)
    assert publish({**document(), "effective_from": rfc3339(later)}).status == 201
    before = table_items()
    refused = publish({**document(), "effective_from": rfc3339(later - timedelta(days=1))})
    assert refused.status == 422 and [problem["field"] for problem in refused["errors"]] == ["effective_from"]
    assert table_items() == before
    assert publish({**document(), "effective_from": rfc3339(later)}).status == 201  # the same start: the newer wins


@pytest.mark.usefixtures("tables")
def test_only_admins_publish_or_list():
    for scopes in (MEMBER, POS):
        assert publish(document(), scopes=scopes).status == 403
        assert call("program", http_event("GET", "/v1/program/versions", scopes=scopes), **FRESH).status == 403
    assert [item["version"] for item in versions()["items"]] == [1]


@pytest.mark.usefixtures("tables")
def test_each_version_written_publishes_one_program_version_published_event():
    assert publish({**document(), "note": "first change"}).status == 201
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.query(TableName="CatalogTable", KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": "PROGRAM"}})["Items"]
    published = [event for item in items for event in events.from_record(DynamoDBRecord({
        "eventID": f"id-{item['sk']['S']}", "eventName": "INSERT", "dynamodb": {"NewImage": item, "Keys": {}}}))]
    assert [(event.detail_type, event.detail["version"], event.detail["published_by"], event.detail["note"])
            for event in published] == [("ProgramVersionPublished", 1, "seed", "the program file the layer ships"),
                                        ("ProgramVersionPublished", 2, "admin-ann", "first change")]
    modified = DynamoDBRecord({"eventID": "x", "eventName": "MODIFY", "dynamodb": {"NewImage": items[1], "OldImage": items[1]}})
    assert events.from_record(modified) == []  # a version never changes; nothing else announces one


# ------------------------------------------------------------------ earning under the version of its time


def _program(points_per_unit: int, unit_minor: int, multiplier: str) -> Program:
    """One tier (a member never leaves it), earning `multiplier` times base points."""
    tiers = [PROGRAM.tiers[0].model_copy(update={"earn_multiplier": Decimal(multiplier)}),
             PROGRAM.tiers[-1].model_copy(update={"min_qualifying_points": 10**9})]
    return PROGRAM.model_copy(update={"earn": PROGRAM.earn.model_copy(update={"points_per_unit": points_per_unit,
                                                                             "unit_minor": unit_minor}),
                                      "tiers": tiers})


RULES = st.tuples(st.integers(1, 5), st.sampled_from([100, 50, 1000]), st.sampled_from(["1", "1.25", "1.5", "2"]))
HOURS = 24 * 40  # versions start within the 40 days before NOW (and a day after); purchases within the last 29


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    first=RULES,
    later=st.lists(st.tuples(st.integers(-HOURS, 24), RULES), max_size=4),
    purchases=st.lists(st.tuples(st.integers(-29 * 24 * 60, 0), st.integers(1, 200_000)), min_size=1, max_size=5),
)
def test_property_each_purchase_earns_under_the_version_in_force_at_its_time(tables, first, later, purchases):
    # Versions as an admin publishes them: numbers in publication order, effective_from never before the newest's.
    starts = sorted(NOW + timedelta(hours=hours) for hours, _ in later)
    table = [(SEED_EFFECTIVE_FROM, 1, first)] + [(start, number, rules) for number, (start, (_, rules))
                                                 in enumerate(zip(starts, later, strict=True), start=2)]
    history = ProgramHistory(tuple(ProgramVersion(number, start, _program(*rules), start, "admin", None)
                                   for start, number, rules in table))
    uc = make_loyalty(at=NOW, programs=Programs(lambda: history, FixedClock(NOW)))
    member_id = uc.enroll(STAFF, email=f"p{datetime.now().timestamp()}@example.com", channel="store").member_id
    for index, (minutes, amount) in enumerate(purchases):
        occurred_at = NOW + timedelta(minutes=minutes)
        # Independently: the last version started by then (the highest number among those starting together).
        started = [row for row in table if row[0] <= occurred_at]
        _, number, (per_unit, unit, multiplier) = max(started, key=lambda row: (row[0], row[1]))
        expected = int(Fraction(amount * per_unit // unit) * Fraction(multiplier))  # floor: both are non-negative
        entry = uc.earn(STAFF, member_id, Purchase(f"t-{index}", amount, "EUR", occurred_at=occurred_at),
                        payload={"i": index}).entry
        assert (entry.program_version, entry.points) == (number, expected), (occurred_at, table)
        # Each breakdown line names that version too, as answered and as stored (the activity and export read it).
        _, stored = uc.store.get_member_and_entries(member_id, [entry.ref])
        for lines in (entry.breakdown, stored[entry.ref].breakdown):
            assert [(line.source, line.program_version) for line in lines] == [
                (source, number) for source, points in (("base", expected_base(amount, per_unit, unit)),
                                                        ("tier", expected - expected_base(amount, per_unit, unit)))
                if source == "base" or points], (occurred_at, table)
            assert sum(line.points for line in lines) == expected


def expected_base(amount: int, per_unit: int, unit: int) -> int:
    return amount * per_unit // unit


def test_a_return_takes_back_what_the_purchase_earned_under_its_own_version(tables):
    clock, stored = FixedClock(NOW), [ProgramHistory.seeded(PROGRAM)]
    uc = make_loyalty(at=NOW, programs=Programs(lambda: stored[0], clock, ttl_seconds=0))
    assert isinstance(uc.clock, FixedClock)
    member_id = uc.enroll(STAFF, email="ret@example.com", channel="store").member_id
    bought = uc.earn(STAFF, member_id, Purchase("t-1", 10_000, "EUR"), payload={"t": 1}).entry
    assert (bought.points, bought.program_version) == (100, 1)
    quintuple = ProgramVersion(2, NOW + timedelta(hours=1), _program(5, 100, "1"), NOW, "admin", "x5")
    stored[0] = ProgramHistory((*stored[0].versions, quintuple))
    clock.advance(timedelta(hours=2))
    uc.clock.advance(timedelta(hours=2))  # the use cases' clock and the cache's: one business time
    again = uc.earn(STAFF, member_id, Purchase("t-2", 10_000, "EUR"), payload={"t": 2}).entry
    assert (again.points, again.program_version) == (500, 2)
    returned = uc.return_purchase(STAFF, member_id, transaction_id="t-1", return_id="r-1", amount_minor=5_000,
                                  payload={"r": 1}).entry
    assert (returned.points, returned.program_version) == (-50, 1)  # half of what t-1 earned, not half of 500


# ------------------------------------------------------------------ reaching the functions


def test_a_new_version_reaches_earn_within_60_seconds_of_its_effective_from(tables, tmp_path):
    clock_file, cache = tmp_path / "business-clock.json", {"PROGRAM_CACHE_SECONDS": "60"}
    start = datetime.now(timezone.utc) + timedelta(days=3)
    env = {**at(start, clock_file), **cache}
    member_id = enroll(env=env)["member_id"]
    assert earn(member_id, "t-0", 1000, env=env)["program_version"] == 1  # the earn function caches version 1 now
    assert publish({**document(earn={"points_per_unit": 2}), "effective_from": rfc3339(start + timedelta(seconds=30))},
                   env=at(start + timedelta(seconds=5), clock_file)).status == 201
    # 30 s later the version is in force, but the earn function may still hold what it read at `start`.
    assert earn(member_id, "t-1", 1000, env={**at(start + timedelta(seconds=40), clock_file), **cache}).status == 201
    # 60 s after effective_from at the latest, it earns under version 2.
    reached = earn(member_id, "t-2", 1000, env={**at(start + timedelta(seconds=90), clock_file), **cache})
    assert (reached["program_version"], reached["points"]) == (2, 20)
    # A version known before it starts applies from its effective_from exactly: the function read it already.
    later = start + timedelta(minutes=10)
    assert publish({**document(earn={"points_per_unit": 4}), "effective_from": rfc3339(later)},
                   env=at(start + timedelta(seconds=95), clock_file)).status == 201
    assert earn(member_id, "t-3", 1000, env={**at(start + timedelta(seconds=200), clock_file), **cache})["program_version"] == 2
    before = earn(member_id, "t-4", 1000, env={**at(later - timedelta(seconds=2), clock_file), **cache})
    assert before["program_version"] == 3 - 1
    exact = earn(member_id, "t-5", 1000, env={**at(later + timedelta(seconds=2), clock_file), **cache})
    assert (exact["program_version"], exact["points"]) == (3, 40)
    shown = program_view(env={**at(later + timedelta(seconds=2), clock_file), **cache})
    assert (shown["version"], shown["effective_from"]) == (3, rfc3339(later))
