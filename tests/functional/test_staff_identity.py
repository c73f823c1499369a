"""Staff identities (the `actor` of an adjustment, the `by` of a consent change made by staff) are for pos and
admin tokens: a member reading its own activity or export sees that staff acted, never who."""

from __future__ import annotations

import pytest

from tests.conftest import call, http_event
from tests.functional.helpers import ADMIN, MEMBER, POS, enroll

SUB = "app-user-1"


@pytest.fixture
def member_id(tables) -> str:
    member_id = enroll("ann@example.com", scopes=MEMBER, sub=SUB, marketing_opt_in=True)["member_id"]
    for key, points in (("adj-1", 25), ("adj-2", -5)):
        event = http_event("POST", f"/v1/members/{member_id}/adjustments", body={"points": points, "reason": "goodwill"},
                           scopes=ADMIN, sub="back-office-anna", headers={"Idempotency-Key": key})
        assert call("earn", event).status == 201
    event = http_event("PATCH", f"/v1/members/{member_id}", body={"marketing_opt_in": False}, scopes=POS,
                       sub="terminal-9")
    assert call("enroll", event).status == 200
    return member_id


def _read(path: str, scopes: str, sub: str):
    reply = call("report", http_event("GET", path, scopes=scopes, sub=sub, query={"limit": "100"} if "activity" in path
                                      else None))
    assert reply.status == 200, reply.body
    return reply.body


def _adjustments(items: list[dict]) -> list[dict]:
    return [item for item in items if item["type"] == "adjust"]


def test_a_member_reading_its_activity_sees_the_adjustments_but_not_who_made_them(member_id):
    for path in ("/v1/members/me/activity", f"/v1/members/{member_id}/activity"):
        adjustments = _adjustments(_read(path, MEMBER, SUB)["items"])
        assert [(item["points"], item["reason"], item["actor"]) for item in adjustments] == [
            (-5, "goodwill", None), (25, "goodwill", None)]


@pytest.mark.parametrize(("scopes", "sub"), [(POS, "terminal-1"), (ADMIN, "admin-1")])
def test_staff_reading_the_activity_see_who_adjusted(member_id, scopes, sub):
    adjustments = _adjustments(_read(f"/v1/members/{member_id}/activity", scopes, sub)["items"])
    assert [item["actor"] for item in adjustments] == ["back-office-anna", "back-office-anna"]


def test_a_members_export_names_no_staff_and_the_admins_does(member_id):
    mine = _read("/v1/members/me/export", MEMBER, SUB)
    admins = _read(f"/v1/members/{member_id}/export", ADMIN, "admin-1")
    assert [item["actor"] for item in _adjustments(mine["activity"])] == [None, None]
    assert [item["actor"] for item in _adjustments(admins["activity"])] == ["back-office-anna"] * 2
    assert [(consent["marketing_opt_in"], consent["by"]) for consent in mine["consents"]] == [
        (True, "member"), (False, "staff")]
    assert [(consent["marketing_opt_in"], consent["by"]) for consent in admins["consents"]] == [
        (True, "member"), (False, "terminal-9")]
    assert "back-office-anna" not in repr(mine) and "terminal-9" not in repr(mine)
