"""From the API to an answer, as `make run` does it: requests write, the stream publisher derives the events, the
follower delivers them to the local Firehose (Parquet by day), the insights function answers with DuckDB. And the
store holds no personal data, before or after an erasure."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from loyalty_local.analytics import EventsFollower
from tests.conftest import LambdaContext, call, http_event, load_function
from tests.functional.helpers import ADMIN, MEMBER, earn, enroll
from tests.jobs.test_events import stream_records

pytestmark = pytest.mark.usefixtures("tables")

PERSON = {"email": "Ann.Erase@Example.com", "name": "Ann Erasmus", "phone": "+44 20 7946 0958", "birthday": "1987-03-19"}
BASKET = [{"sku": "latte", "category": "coffee", "amount_minor": 350, "quantity": 1},
          {"sku": "croissant", "category": "bakery", "amount_minor": 250, "quantity": 2}]


def _publish_and_deliver(sink, root, seen: dict[str, int] | None = None) -> int:
    """The publisher on the tables' new stream records (what `make run`'s poller does; `seen` counts those read
    before), then the follower's round."""
    seen = {} if seen is None else seen
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    for table in ("MembersTable", "LedgerTable"):
        records = stream_records(table)
        publisher.lambda_handler({"Records": records[seen.get(table, 0):]}, LambdaContext(function_name="publish_events"))
        seen[table] = len(records)
    return EventsFollower(sink, root, log=print).step()


def _query(sql: str, *params) -> list[tuple]:
    connection = duckdb.connect()
    try:
        return connection.execute(sql, list(params)).fetchall()
    finally:
        connection.close()


def _columns_text(root) -> str:
    """Every column of every row of every Parquet file, as text."""
    rows = _query(f"SELECT * FROM read_parquet('{root}/events/day=*/*.parquet', hive_partitioning = true)")
    return json.dumps(rows, default=str).lower()


def _insight(root, body: dict, scopes: str = ADMIN):
    return call("insights", http_event("POST", "/v1/insights/queries", body=body, scopes=scopes, sub="back-office-1"),
                ANALYTICS_DIR=str(root))


def test_purchases_reach_the_store_with_their_basket_and_the_insights_function_answers(tmp_path):
    root, sink = tmp_path / "analytics", tmp_path / "events.jsonl"
    member = enroll(scopes=MEMBER, sub="app-user-1", **PERSON, channel="app").body["member_id"]
    assert earn(member, "t-1", 850, items=BASKET, store_id="store-42", channel="store").status == 201
    assert earn(member, "t-2", 1200).status == 201
    assert _publish_and_deliver(sink, root) == 3  # enrolled, earned twice

    [(row,)] = _query(f"SELECT detail FROM read_parquet('{root}/events/day=*/*.parquet') "
                      "WHERE detail_type = 'PointsEarned' AND detail.transaction_id = 't-1'")
    assert (row["store_id"], row["channel"], row["amount_minor"]) == ("store-42", "store", 850)
    assert [(item["sku"], item["category"], item["amount_minor"], item["quantity"]) for item in row["items"]] == [
        ("latte", "coffee", 350, 1), ("croissant", "bakery", 250, 2)]

    today = date.today().isoformat()
    reply = _insight(root, {"insight": "repeat_purchase", "params": {"from": today, "to": today}})
    assert reply.status == 202 and reply["status"] == "succeeded"
    read = call("insights", http_event("GET", f"/v1/insights/queries/{reply['query_id']}", scopes=ADMIN, sub="b"),
                ANALYTICS_DIR=str(root))
    assert read.status == 200
    assert (read["engine"], read["result"]["buyers"], read["result"]["repeat_buyers"]) == ("duckdb", 1, 1)
    assert read["scanned_bytes"] > 0


def test_no_personal_data_lands_in_the_store_and_an_erased_member_s_rows_stay(tmp_path):
    root, sink = tmp_path / "analytics", tmp_path / "events.jsonl"
    member = enroll(scopes=MEMBER, sub="app-user-1", **PERSON, channel="app").body["member_id"]
    earn(member, "t-1", 850, items=BASKET, store_id="store-42")
    seen: dict[str, int] = {}
    _publish_and_deliver(sink, root, seen)
    [(before,)] = _query(f"SELECT count(*) FROM read_parquet('{root}/events/day=*/*.parquet') "
                         "WHERE detail.member_id = ?", member)
    assert call("enroll", http_event("DELETE", f"/v1/members/{member}", scopes=MEMBER, sub="app-user-1")).status == 200
    assert _publish_and_deliver(sink, root, seen) == 2  # MemberErased and PointsForfeited: nothing rewritten
    text = _columns_text(root)
    for value in PERSON.values():
        assert value.lower() not in text, value
    types = [r[0] for r in _query(f"SELECT detail_type FROM read_parquet('{root}/events/day=*/*.parquet') "
                                  "WHERE detail.member_id = ?", member)]
    assert "MemberErased" in types and types.count("PointsEarned") == 1  # the pseudonymous history stays
    assert len(types) == before + 2
    [(forfeited,)] = _query(f"SELECT detail.points FROM read_parquet('{root}/events/day=*/*.parquet') "
                            "WHERE detail_type = 'PointsForfeited' AND detail.member_id = ?", member)
    [(held,)] = _query(f"SELECT sum(CASE WHEN detail_type = 'PointsEarned' THEN detail.points "
                       "WHEN detail_type = 'MemberEnrolled' THEN detail.points_balance END) "
                       f"FROM read_parquet('{root}/events/day=*/*.parquet') WHERE detail.member_id = ?", member)
    assert forfeited == held > 0  # the balance the erasure forfeited leaves the liability


@pytest.mark.parametrize(("body", "scopes", "status"), [
    ({"insight": "liability", "params": {"from": "2026-01-01", "to": "2026-01-31"}}, MEMBER, 403),
    ({"insight": "churn", "params": {"from": "2026-01-01", "to": "2026-01-31"}}, ADMIN, 422),
    ({"insight": "liability", "params": {"from": "2026-01-31", "to": "2026-01-01"}}, ADMIN, 422),
    ({"insight": "repeat_purchase", "params": {"from": "2026-01-01", "to": "2026-01-31", "within_days": "30"}}, ADMIN, 422),
    ({"insight": "campaign_lift", "params": {"from": "2026-01-01", "to": "2026-01-31", "campaign_id": "nope"}}, ADMIN, 422),
])
def test_refused_requests_keep_no_query(tmp_path, body, scopes, status):
    from tests.functional.helpers import table_items

    before = table_items()["InsightQueriesTable"]
    reply = _insight(tmp_path, body, scopes=scopes)
    assert reply.status == status, reply.body
    assert table_items()["InsightQueriesTable"] == before


def test_an_unknown_query_is_404():
    reply = call("insights", http_event("GET", "/v1/insights/queries/q-" + "a" * 32, scopes=ADMIN, sub="b"))
    assert (reply.status, reply["code"]) == (404, "QUERY_NOT_FOUND")
