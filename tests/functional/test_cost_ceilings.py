"""Every call has a cost ceiling: the report's range, the list pages, the export's entries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from loyalty.privacy.use_cases import MAX_EXPORT_ENTRIES
from loyalty.reports.use_cases import MAX_REPORT_DAYS
from loyalty.domain.access import ADMIN_SCOPE, Caller
from loyalty.domain.model import Purchase
from tests.conftest import call, http_event, make_loyalty
from tests.functional.helpers import ADMIN, POS, enroll, table_items

ADMIN_CALLER = Caller(sub="admin-1", scopes=frozenset({ADMIN_SCOPE}))


@pytest.fixture(autouse=True)
def _tables(tables):
    yield


@pytest.mark.parametrize(("function", "path", "scopes"), [
    ("report", "/v1/members/{member_id}/activity", POS),
    ("redeem", "/v1/rewards", POS),
    ("campaigns", "/v1/campaigns", ADMIN),
])
def test_a_list_page_holds_at_most_100_items(function, path, scopes):
    member_id = enroll()["member_id"]
    path = path.format(member_id=member_id)
    assert call(function, http_event("GET", path, scopes=scopes, query={"limit": "100"})).status == 200
    for too_many in ("101", "1000000"):
        reply = call(function, http_event("GET", path, scopes=scopes, query={"limit": too_many}))
        assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR"), reply.body


def test_a_report_covers_at_most_366_days():
    start = date(2026, 1, 1)

    def report(days: int):
        query = {"from": start.isoformat(), "to": (start + timedelta(days=days - 1)).isoformat()}
        return call("report", http_event("GET", "/v1/reports/program", scopes=ADMIN, query=query))

    assert MAX_REPORT_DAYS == 366
    assert report(366).status == 200
    refused = report(367)
    assert (refused.status, refused["code"]) == (422, "INVALID_RANGE")


def test_the_export_holds_the_newest_entries_up_to_its_ceiling_and_a_cursor_to_the_rest():
    assert make_loyalty().max_export_entries == MAX_EXPORT_ENTRIES == 1000
    uc = make_loyalty(max_export_entries=3)  # a ceiling small enough for a test
    member = uc.enroll(ADMIN_CALLER, email="big@example.com", channel="store")
    for index in range(4):
        uc.clock.advance(timedelta(minutes=1))
        uc.earn(ADMIN_CALLER, member.member_id, Purchase(f"t-{index}", 1_000 * (index + 1), "EUR"), {"i": index})
    exported = uc.export(ADMIN_CALLER, member.member_id)
    assert [entry.ref.id for entry in exported.entries] == ["t-3", "t-2", "t-1"], "the newest three, newest first"
    assert exported.next_cursor
    before = table_items()
    rest, cursor = uc.activity(ADMIN_CALLER, member.member_id, 100, exported.next_cursor)
    assert [(entry.type, entry.ref.id) for entry in rest] == [("earn", "t-0"), ("bonus", "welcome")] and cursor is None
    assert table_items() == before
    small = make_loyalty()
    other = small.enroll(ADMIN_CALLER, email="small@example.com", channel="store")
    assert small.export(ADMIN_CALLER, other.member_id).next_cursor is None, "all of it: no cursor"
