"""The member-facts snapshot through the functions, as `make run` does it: the snapshot function reads every member
and writes Parquet (DuckDB) under the store, publishes its mark and the RFM boundaries; the facts function scores
`rfm` from them; the insights function counts a segment on the snapshot (GET /v1/segments/{segment_id}/size)."""

from __future__ import annotations

import json

import duckdb
import pytest

from loyalty.insights import facts_snapshot
from tests.conftest import LambdaContext, call, http_event, load_function
from tests.functional.helpers import ADMIN, MEMBER, POS, earn, enroll

pytestmark = pytest.mark.usefixtures("tables")

PERSON = {"email": "Ann.Snap@Example.com", "name": "Ann Snapshot", "phone": "+44 20 7946 0001", "birthday": "1985-06-15"}
BIG_SPENDERS = {"segment_id": "big-spenders", "name": "Big spenders", "description": "20 or more in 90 days",
                "conditions": {"all": [{"fact": "member.spend_90d_minor", "op": "gte", "value": 2000}]}}


def _snapshot(root):
    return load_function("snapshot", ANALYTICS_DIR=str(root)).lambda_handler({}, LambdaContext(function_name="snapshot"))


def _rows(root) -> list[dict]:
    connection = duckdb.connect()
    try:
        cursor = connection.execute(f"SELECT * FROM read_parquet('{root}/member_facts/*/*.parquet', hive_partitioning = true)")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def _size(root, segment_id: str, scopes: str = ADMIN):
    return call("insights", http_event("GET", f"/v1/segments/{segment_id}/size", scopes=scopes, sub="back-office-1"),
                ANALYTICS_DIR=str(root))


def _segment(method: str, path: str, body: dict):
    return call("campaigns", http_event(method, path, body=body, scopes=ADMIN, sub="back-office-1"))


def _facts(member_id: str, instance: int = 0):
    return call("report", http_event("GET", f"/v1/members/{member_id}/facts", scopes=POS, sub="terminal-1"), instance)


def test_the_snapshot_holds_every_member_s_facts_and_segments_and_nothing_personal(tmp_path):
    root = tmp_path / "analytics"
    assert _segment("POST", "/v1/segments", BIG_SPENDERS).status == 201
    ann = enroll(scopes=MEMBER, sub="ann-sub", **PERSON, channel="app").body["member_id"]
    bob = enroll("bob@example.com").body["member_id"]
    cat = enroll("cat@example.com").body["member_id"]
    assert earn(ann, "t-1", 2500, items=[{"sku": "latte", "category": "coffee", "amount_minor": 2500, "quantity": 1}]).status == 201
    assert earn(bob, "t-2", 900).status == 201

    result = _snapshot(root)
    assert result["members"] == 3
    rows = {row["member_id"]: row for row in _rows(root)}
    assert set(rows) == {ann, bob, cat}
    assert set(_rows(root)[0]) == {*facts_snapshot.NAMES, facts_snapshot.PARTITION}
    [tag] = {tag for row in rows.values() for tag in row["segments"]}
    assert tag.startswith("big-spenders:")
    assert [member for member, row in rows.items() if row["segments"]] == [ann]  # 2500 >= 2000; bob's 900 is not
    for member_id, row in rows.items():  # the facts route and the snapshot say the same
        seen = _facts(member_id)
        for name in ("tier", "channel", "purchase_count", "spend_minor", "spend_90d_minor", "categories_90d",
                     "points_balance", "days_since_last_purchase", "redemptions_count"):
            assert row[name] == seen[name], (member_id, name)
        assert json.loads(row["attributes"]) == seen["attributes"]
    text = json.dumps(_rows(root), default=str).lower()
    for value in (PERSON["email"].lower(), PERSON["name"].lower(), PERSON["phone"], PERSON["birthday"], "bob@example.com"):
        assert value.lower() not in text, value
    assert not set(facts_snapshot.NEVER) & set(_rows(root)[0])


def test_the_size_counts_the_snapshot_and_says_when_there_is_none_or_the_segment_is_newer(tmp_path):
    root = tmp_path / "analytics"
    assert _segment("POST", "/v1/segments", BIG_SPENDERS).status == 201
    spenders = sorted(enroll(f"s{n}@example.com").body["member_id"] for n in range(23))
    others = [enroll(f"o{n}@example.com").body["member_id"] for n in range(3)]
    for n, member_id in enumerate(spenders):
        assert earn(member_id, f"t-s{n}", 2000 + n).status == 201
    for n, member_id in enumerate(others):
        assert earn(member_id, f"t-o{n}", 1999).status == 201

    before = _size(root, "big-spenders")
    assert (before.status, before["code"]) == (409, "NO_SNAPSHOT")
    assert _size(root, "nobody-here").status == 404

    _snapshot(root)
    size = _size(root, "big-spenders")
    assert size.status == 200, size.body
    assert (size["segment_id"], size["members"], size["sample"]) == ("big-spenders", 23, spenders[:20])
    assert size["as_of"]
    for scopes in (POS, MEMBER):
        assert _size(root, "big-spenders", scopes=scopes).status == 403

    changed = {**BIG_SPENDERS, "conditions": {"all": [{"fact": "member.spend_90d_minor", "op": "gte", "value": 1999}]}}
    assert _segment("PUT", "/v1/segments/big-spenders", changed).status == 200
    stale = _size(root, "big-spenders")
    assert (stale.status, stale["code"]) == (409, "SEGMENT_NOT_IN_SNAPSHOT")
    _snapshot(root)  # a second snapshot of the day: the newest counts, the first is not counted twice
    assert _size(root, "big-spenders")["members"] == 26


def test_the_snapshot_publishes_rfm_boundaries_and_the_facts_score_members_by_them(tmp_path):
    root = tmp_path / "analytics"
    members = [enroll(f"r{n}@example.com").body["member_id"] for n in range(10)]
    for n, member_id in enumerate(members):  # member n buys n + 1 times, 1000 each
        for k in range(n + 1):
            assert earn(member_id, f"t-{n}-{k}", 1000).status == 201
    assert _facts(members[0])["rfm"] is None  # no boundaries yet
    _snapshot(root)
    # nearest rank over the 10 buyers' frequencies 1..10: cuts at positions 2, 4, 6, 8 -> 2, 4, 6, 8
    for n, member_id in enumerate(members):
        frequency = n + 1
        expected_f = 1 + sum(frequency > cut for cut in (2, 4, 6, 8))
        rfm = _facts(member_id)["rfm"]
        assert rfm == {"r": 5, "f": expected_f, "m": expected_f}, (n, rfm)  # all bought today: recency cuts 0

    # and conditions see them: a campaign for the top frequency fifth applies to members 8 and 9 only
    campaign = {"campaign_id": "best-fifth", "name": "Our best 20%", "effect": {"type": "bonus", "points": 100},
                "conditions": {"all": [{"fact": "member.rfm.f", "op": "eq", "value": 5}]}}
    for path, body in (("/v1/campaigns", campaign), ("/v1/campaigns/best-fifth/activate", None)):
        assert call("campaigns", http_event("POST", path, body=body, scopes=ADMIN, sub="b")).status in (200, 201)
    applied = []
    for n, member_id in enumerate(members):
        preview = call("earn", http_event("POST", f"/v1/members/{member_id}/earn/preview", scopes=POS, sub="t",
                                          body={"transaction_id": f"p-{n}", "amount_minor": 100, "currency": "EUR"}))
        assert preview.status == 200, preview.body
        applied += [n] if any(line.get("campaign_id") == "best-fifth" for line in preview["breakdown"]) else []
    assert applied == [8, 9]


def test_every_member_is_read_once_over_the_table_s_segments_and_the_erased_are_left_out(tmp_path):
    root = tmp_path / "analytics"
    members = [enroll(f"p{n}@example.com").body["member_id"] for n in range(7)]
    erased = members.pop()
    assert call("enroll", http_event("DELETE", f"/v1/members/{erased}", scopes=ADMIN, sub="a")).status in (200, 204)
    snapshot = load_function("snapshot", ANALYTICS_DIR=str(root), SNAPSHOT_SCAN_SEGMENTS="3")
    requests: list[str] = []
    snapshot.snapshot.members.on_request(lambda operation, params: requests.append(operation))
    assert snapshot.lambda_handler({}, LambdaContext(function_name="snapshot"))["members"] == 6
    assert sorted(row["member_id"] for row in _rows(root)) == sorted(members)
    assert requests == ["Scan", "Scan", "Scan"], "one page per segment here: a paginated read, three segments"
