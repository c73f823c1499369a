"""Privacy: a member's export and erasure, and no personal data anywhere but the member item (issue 13)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import boto3
import pytest

from loyalty import events
from loyalty.reports.api import ProgramReportView
from loyalty.domain import errors
from loyalty.domain.access import Caller
from loyalty.domain.model import Purchase
from ops.reapply_erasures import erased_member_ids, main
from tests.conftest import PROGRAM, call, function_environment, http_event, make_loyalty
from tests.functional.helpers import ADMIN, MEMBER, POS, activity, earn, enroll, redeem, table_items, view
from tests.jobs.test_events import stream_records

pytestmark = pytest.mark.usefixtures("tables")

PERSON = {"email": "Ann.Erase@Example.com", "name": "Ann Erasmus", "phone": "+44 20 7946 0958", "birthday": "1987-03-19"}
ADMIN_CALLER = Caller(sub="admin-1", scopes=frozenset({ADMIN}))
STAFF = Caller(sub="terminal-1", scopes=frozenset({POS}))


def app_member(sub: str = "app-user-1", **fields) -> str:
    """A member enrolled from the app (a member token), with a full profile, a purchase and a redemption."""
    reply = enroll(scopes=MEMBER, sub=sub, **{**PERSON, "marketing_opt_in": True, **fields})
    assert reply.status == 201, reply.body
    member_id = reply["member_id"]
    assert earn(member_id, "t-1", 10_000, store_id="store-7").status == 201
    assert redeem("me", "k-1", scopes=MEMBER, sub=sub, reward_id="pastry").status == 201
    return member_id


def export(member_id: str, scopes: str = MEMBER, sub: str | None = "app-user-1"):
    return call("report", http_event("GET", f"/v1/members/{member_id}/export", scopes=scopes, sub=sub))


def erase(member_id: str, scopes: str = MEMBER, sub: str | None = "app-user-1"):
    return call("enroll", http_event("DELETE", f"/v1/members/{member_id}", scopes=scopes, sub=sub))


def withdraw_consent(member_id: str) -> None:
    reply = call("enroll", http_event("PATCH", f"/v1/members/{member_id}", body={"marketing_opt_in": False},
                                      scopes=MEMBER, sub="app-user-1"))
    assert reply.status == 200, reply.body


# ------------------------------------------------------------------ export


def test_the_export_holds_every_field_the_member_view_and_the_activity_show():
    member_id = app_member()
    assert call("earn", http_event("POST", f"/v1/members/{member_id}/adjustments", body={"points": 5, "reason": "goodwill"},
                                   scopes=ADMIN, sub="admin-1", headers={"Idempotency-Key": "adj-1"})).status == 201
    withdraw_consent(member_id)
    shown = view("me", scopes=MEMBER, sub="app-user-1").body
    pages, cursor = [], None
    while True:  # the activity, a page of two at a time
        page = activity("me", scopes=MEMBER, sub="app-user-1", limit="2", **({"cursor": cursor} if cursor else {})).body
        pages += page["items"]
        if not (cursor := page["next_cursor"]):
            break

    exported = export("me")
    assert exported.status == 200, exported.body
    by_admin = export(member_id, scopes=ADMIN, sub="admin-1").body
    adjusted = [entry for entry in by_admin["activity"] if entry["type"] == "adjust"]
    assert [entry["actor"] for entry in adjusted] == ["admin-1"], "the admin sees who adjusted"
    for entry in adjusted:
        entry["actor"] = None  # the member does not (test_staff_identity)
    assert exported.body == by_admin
    data = exported.body
    for name, value in shown.items():
        assert data["member"][name] == value, name
    assert data["member"]["sub"] == "app-user-1" and data["member"]["lots"]
    assert len(data["activity"]) == len(pages) == 4  # welcome, earn, redeem, adjust: newest first, as the activity
    for item, entry in zip(pages, data["activity"], strict=True):
        assert {name: entry[name] for name in item} == item
    earned = next(entry for entry in data["activity"] if entry["type"] == "earn")
    assert (earned["store_id"], earned["currency"], earned["tier_after"]) == ("store-7", "EUR", "Bronze")
    redeemed = next(entry for entry in data["activity"] if entry["type"] == "redeem")
    assert [voucher["voucher_code"] for voucher in data["vouchers"]] == [redeemed["voucher_code"]]
    # the consent given at enrolment, then the withdrawal: oldest first, each with who and when
    assert [(consent["marketing_opt_in"], consent["by"]) for consent in data["consents"]] == [(True, "member"), (False, "member")]
    assert data["consents"][0]["at"] == data["member"]["enrolled_at"] <= data["consents"][1]["at"]


def test_only_the_owner_and_admins_get_an_export():
    member_id = app_member()
    assert export(member_id, scopes=POS, sub="terminal-1").status == 403
    assert export(member_id, sub="someone-else").status == 404
    assert export("me", sub="never-enrolled").status == 404
    assert export("m0000000000000000000", scopes=ADMIN, sub="admin-1").status == 404


# ------------------------------------------------------------------ erasure


def test_erasure_answers_the_same_again_and_every_route_for_the_member_then_answers_404():
    member_id = app_member()
    erased = erase("me")
    assert erased.status == 200 and set(erased.body) == {"member_id", "erased_at"}
    assert erased["member_id"] == member_id
    assert erase(member_id, scopes=ADMIN, sub="admin-1").body == erased.body  # idempotent
    assert erase(member_id).body == erased.body  # by id, from the member token too
    assert erase("me").status == 404  # the account names no member any more

    admin = {"scopes": ADMIN, "sub": "admin-1"}
    for function, method, path, body, headers, who in [
        ("report", "GET", f"/v1/members/{member_id}", None, None, admin),
        ("report", "GET", "/v1/members/me", None, None, {"scopes": MEMBER, "sub": "app-user-1"}),
        ("report", "GET", f"/v1/members/{member_id}/activity", None, None, admin),
        ("report", "GET", "/v1/members/me/activity", None, None, {"scopes": MEMBER, "sub": "app-user-1"}),
        ("report", "GET", f"/v1/members/{member_id}/export", None, None, admin),
        ("earn", "POST", f"/v1/members/{member_id}/earn", {"transaction_id": "t-2", "amount_minor": 100, "currency": "EUR"},
         None, admin),
        ("earn", "POST", f"/v1/members/{member_id}/returns", {"transaction_id": "t-1", "return_id": "r-1", "amount_minor": 100},
         None, admin),
        ("earn", "POST", f"/v1/members/{member_id}/adjustments", {"points": 5, "reason": "x"}, {"Idempotency-Key": "a"}, admin),
        ("redeem", "POST", f"/v1/members/{member_id}/redemptions", {"points": 5}, {"Idempotency-Key": "k-2"}, admin),
        ("redeem", "POST", "/v1/members/me/redemptions", {"points": 5}, {"Idempotency-Key": "k-3"},
         {"scopes": MEMBER, "sub": "app-user-1"}),
        ("enroll", "POST", f"/v1/members/{member_id}/block", {"reason": "x"}, None, admin),
        ("enroll", "POST", f"/v1/members/{member_id}/unblock", None, None, admin),
    ]:
        reply = call(function, http_event(method, path, body=body, headers=headers, **who))
        assert (reply.status, reply.body.get("code")) == (404, "MEMBER_NOT_FOUND"), (method, path, reply.body)
    found = call("report", http_event("GET", "/v1/members", query={"email": PERSON["email"]}, scopes=POS))
    assert found.status == 200 and found["items"] == []


def test_the_same_email_and_account_enroll_again_as_a_new_member():
    old_id = app_member()
    old_code = view(old_id)["referral_code"]
    assert erase("me").status == 200
    again = enroll(scopes=MEMBER, sub="app-user-1", email=PERSON["email"].upper())
    assert again.status == 201, again.body
    assert again["member_id"] != old_id and again["points_balance"] == 50
    assert view("me", scopes=MEMBER, sub="app-user-1")["member_id"] == again["member_id"]
    assert [item["type"] for item in activity("me", scopes=MEMBER, sub="app-user-1")["items"]] == ["bonus"]
    found = call("report", http_event("GET", "/v1/members", query={"email": PERSON["email"]}, scopes=POS))
    assert [item["member_id"] for item in found["items"]] == [again["member_id"]]
    # The erased member's referral code went with it: nobody is credited for referring as an erased member.
    referred = enroll(email="friend@example.com", referral_code=old_code)
    assert (referred.status, referred["code"]) == (422, "INVALID_REFERRAL_CODE")


def test_a_member_token_cannot_erase_another_member_and_pos_cannot_erase():
    member_id = app_member()
    before = table_items()
    assert erase(member_id, sub="someone-else").status == 404
    assert erase(member_id, scopes=POS, sub="terminal-1").status == 403
    assert table_items() == before


def test_past_days_report_the_same_and_the_balance_and_tier_leave_the_figures():
    uc = make_loyalty(at=datetime(2026, 11, 2, 10, tzinfo=timezone.utc))
    member = uc.enroll(STAFF, email=PERSON["email"], channel="store", name=PERSON["name"])
    uc.earn(STAFF, member.member_id, Purchase("t-1", 60_000, "EUR"), payload={})  # 600 points: Silver
    other = uc.enroll(STAFF, email="stays@example.com", channel="store")
    day = date(2026, 11, 2)
    uc.clock.at = datetime(2026, 11, 5, 10, tzinfo=timezone.utc)
    before = ProgramReportView.of(uc.program_report(day, day), PROGRAM).model_dump(mode="json")
    balance = uc.member(ADMIN_CALLER, member.member_id).balance

    erased = uc.erase(ADMIN_CALLER, member.member_id)

    after = ProgramReportView.of(uc.program_report(day, day), PROGRAM).model_dump(mode="json")
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"tier_distribution"}  # the distribution is "now"; the day's figures never change
    assert before["tier_distribution"]["Silver"] - after["tier_distribution"]["Silver"] == 1
    assert after["tier_distribution"]["Bronze"] == before["tier_distribution"]["Bronze"] == 1  # the other member
    today = uc.program_report(date(2026, 11, 5), date(2026, 11, 5))
    view_today = ProgramReportView.of(today, PROGRAM)
    assert view_today.points_forfeited == balance == 650 and view_today.daily[0].points_forfeited == balance
    assert view_today.outstanding_points == before["outstanding_points"] - balance == 50  # the other member's welcome
    assert erased.balance == 0 and uc.member(ADMIN_CALLER, other.member_id).balance == 50


def test_export_and_erasure_round_trips():
    uc = make_loyalty(at=datetime.now(timezone.utc))
    member_id = app_member()
    operations: list[str] = []
    uc.store.on_request(lambda operation, params: operations.append(operation))
    me = Caller(sub="app-user-1", scopes=frozenset({MEMBER}))
    uc.export(ADMIN_CALLER, member_id)
    assert operations == ["GetItem", "Query", "Query", "BatchGetItem"]  # member, newest entries, consents, vouchers
    operations.clear()
    uc.export(me, "me")
    assert operations == ["GetItem", "GetItem", "Query", "Query", "BatchGetItem"]  # the SUB# marker first
    operations.clear()
    uc.erase(ADMIN_CALLER, member_id)
    assert operations == ["GetItem", "TransactWriteItems"]  # erasure: one read, one transaction
    operations.clear()
    uc.erase(ADMIN_CALLER, member_id)
    assert operations == ["GetItem"]  # again: answered from the read
    operations.clear()
    with pytest.raises(errors.MemberNotFound):
        uc.erase(me, "me")
    assert operations == ["GetItem"]


def test_erasing_by_me_reads_the_account_marker_first():
    uc = make_loyalty(at=datetime.now(timezone.utc))
    app_member()
    operations: list[str] = []
    uc.store.on_request(lambda operation, params: operations.append(operation))
    uc.erase(Caller(sub="app-user-1", scopes=frozenset({MEMBER})), "me")
    assert operations == ["GetItem", "GetItem", "TransactWriteItems"]


def test_after_erasure_no_stored_item_and_no_published_event_holds_the_persons_data():
    member_id = app_member()
    admin = {"scopes": ADMIN, "sub": "admin-1"}
    block = http_event("POST", f"/v1/members/{member_id}/block", body={"reason": "chargeback dispute"}, **admin)
    assert call("enroll", block).status == 200
    assert erase(member_id, **admin).status == 200

    stored = table_items()
    text = json.dumps(stored).lower()
    for value in PERSON.values():
        assert value.lower() not in text, value
    assert "chargeback dispute" not in text  # the block's free-text reason went with the profile
    member_item = next(item for item in stored["MembersTable"] if item["pk"]["S"] == f"M#{member_id}")
    assert member_item["status"]["S"] == "erased" and int(member_item["balance"]["N"]) == 0
    assert not {"email", "name", "phone", "birthday", "sub", "due_shard", "review_shard", "birthday_shard"} & set(member_item)
    assert {item["pk"]["S"].split("#")[0] for item in stored["MembersTable"] if member_id in json.dumps(item)} == {
        "M", "RC", "RD", "V"}  # the member, its redemption count, record and voucher: no marker
    erase_entry = next(item for item in stored["LedgerTable"] if item["entry_key"]["S"] == "erase#erase")
    assert (int(erase_entry["points"]["N"]), erase_entry["member_id"]["S"]) == (-(50 + 100 - 120), member_id)

    published = events.from_stream(stream_records("MembersTable")) + events.from_stream(stream_records("LedgerTable"))
    text = json.dumps([event.detail for event in published]).lower()
    for value in PERSON.values():
        assert value.lower() not in text, value
    erasures = [event.detail for event in published if event.detail_type == "MemberErased"]
    assert len(erasures) == 1 and set(erasures[0]) == {"event_id", "member_id", "erased_at"}
    assert "MemberUnblocked" not in {event.detail_type for event in published}  # an erasure announces nothing else


# ------------------------------------------------------------------ backups


def test_erasures_are_applied_again_after_a_point_in_time_restore(tmp_path):
    client = boto3.client("dynamodb", region_name="us-east-1")
    erased_id = app_member()
    kept_id = enroll(email="kept@example.com")["member_id"]
    snapshot = table_items()  # the restore point: before the erasure
    assert erase(erased_id, scopes=ADMIN, sub="admin-1").status == 200
    listed = erased_member_ids(client, "LedgerTable")  # from the ledger live before the restore
    assert listed == [erased_id]
    for table in ("MembersTable", "LedgerTable", "StatsTable"):  # the restore: the tables as they were
        key_names = [key["AttributeName"] for key in client.describe_table(TableName=table)["Table"]["KeySchema"]]
        for item in table_items()[table]:
            client.delete_item(TableName=table, Key={name: item[name] for name in key_names})
        for item in snapshot[table]:
            client.put_item(TableName=table, Item=item)
    assert view(erased_id).status == 200  # the erased member is back...

    ids_file = tmp_path / "erased.txt"
    ids_file.write_text(f"{erased_id}\nm0000000000000000000\n")  # an id enrolled after the restore point: skipped
    assert main(["--member-ids", str(ids_file)], env=function_environment("enroll")) == [erased_id]

    assert view(erased_id).status == 404 and view(kept_id).status == 200
    text = json.dumps(table_items()).lower()
    assert PERSON["email"].lower() not in text and PERSON["name"].lower() not in text
    assert main(["--erased-in", "LedgerTable"], env=function_environment("enroll")) == []  # again: nothing to do
    assert enroll(scopes=MEMBER, sub="app-user-1", email=PERSON["email"]).status == 201


def test_an_erased_member_is_left_out_of_the_jobs():
    uc = make_loyalty(at=datetime(2026, 11, 2, tzinfo=timezone.utc))
    member = uc.enroll(STAFF, email=PERSON["email"], channel="store")
    uc.earn(STAFF, member.member_id, Purchase("t-1", 60_000, "EUR"), payload={})  # Silver: under review; lots due
    uc.erase(ADMIN_CALLER, member.member_id)
    later = uc.clock.at + timedelta(days=400)
    uc.clock.at = later
    assert uc.expire_member(later, member.member_id) == 0
    assert uc.review_member(later, member.member_id) is False
    assert uc.store.get_member(member.member_id).tier == "Silver"  # kept as it was: no TierChanged, no counter move


def test_no_function_is_configured_to_log_request_bodies():
    """Powertools logs whole events with POWERTOOLS_LOGGER_LOG_EVENT, and route arguments (bodies) with POWERTOOLS_DEBUG."""
    from loyalty_local.template import functions

    for spec in functions().values():
        assert not {"POWERTOOLS_LOGGER_LOG_EVENT", "POWERTOOLS_DEBUG"} & set(spec.environment), spec.logical_id
