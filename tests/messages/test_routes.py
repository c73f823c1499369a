"""The message routes through their handlers on moto: templates (checked at write time, versions, preview), the
member's log (owner and admin only, no address or body), one-click unsubscribe (RFC 8058 form and JSON, repeated,
tampered); and the send_messages function on a queue batch, writing the local outbox."""

from __future__ import annotations

import json
from urllib.parse import quote

import boto3
import pytest

from loyalty.messages.unsubscribe import UnsubscribeTokens
from tests.conftest import TEST_UNSUBSCRIBE_KEY, LambdaContext, call, http_event, load_function
from tests.functional.helpers import ADMIN, MEMBER, POS, enroll, table_items, view

pytestmark = pytest.mark.usefixtures("tables")
TOKENS = UnsubscribeTokens(TEST_UNSUBSCRIBE_KEY)


def template_event(method: str, kind: str, locale: str, body=None, scopes: str = ADMIN, raw_body: str | None = None):
    event = http_event(method, f"/v1/messages/templates/{kind}/{locale}", body=body, scopes=scopes, sub="admin-1",
                       raw_body=raw_body)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} /v1/messages/templates/{{kind}}/{{locale}}"
    event["pathParameters"] = {"kind": kind, "locale": locale}
    return event


def unsubscribe_event(*, token: str | None = None, body: str | None = None, content_type: str = "application/json"):
    event = http_event("POST", "/v1/unsubscribe", raw_body=body, headers={"content-type": content_type},
                       query={"token": quote(token)} if token is not None else None)
    if token is not None:
        event["queryStringParameters"] = {"token": token}
    del event["requestContext"]["authorizer"]  # the route has no authorizer: a mail client sends no bearer token
    return event


def one_click(token: str):
    return call("messages", unsubscribe_event(token=token, body="List-Unsubscribe=One-Click",
                                              content_type="application/x-www-form-urlencoded"))


GOOD = {"subject": "{{ member.name }}, you are {{ tier }}", "text": "Now {{ tier }}.\n", "html": "<b>{{ tier }}</b>"}


def test_a_template_is_stored_as_its_next_version_with_a_preview():
    first = call("messages", template_event("PUT", "tier_changed", "en", GOOD))
    assert first.status == 200, first.body
    assert (first["version"], first["preview"]["subject"], first["preview"]["html"]) == ("1", "Sam, you are Gold", "<b>Gold</b>")
    again = call("messages", template_event("PUT", "tier_changed", "en", {**GOOD, "text": "{{ tier }}!"}))
    assert (again.status, again["version"], again["text"]) == (200, "2", "{{ tier }}!")
    read = call("messages", template_event("GET", "tier_changed", "en"))
    assert (read["version"], read["text"]) == ("2", "{{ tier }}!")
    listed = call("messages", http_event("GET", "/v1/messages/templates", scopes=ADMIN, sub="admin-1"))
    versions = {(t["kind"], t["locale"]): t["version"] for t in listed["items"]}
    assert versions[("tier_changed", "en")] == "2" and versions[("tier_changed", "de")] == "default"
    assert len(versions) == 12  # six kinds in English and German


@pytest.mark.parametrize("source,field", [
    ("{{ voucher_code }}", "unknown placeholder"),
    ("{{ tier }}", "unknown placeholder"),
    ("{{ ''.__class__ }}", "__class__"),
    ("{{ member.__class__.__mro__ }}", "is not a value a template may read"),
    ("{{ 'x' * 999999999999 }}", "does not render"),
    ("{{ points ** points ** points }}", "does not render"),
    ("{% for x in points %}{{ x }}{% endfor %}", "for is not allowed"),
    ("{% set x = 1 %}", "assign is not allowed"),
    ("{{ points * 999999999 * 'x' }}", "does not render"),
    ("{% if tier %}", "not a valid template"),
])
def test_a_template_the_sandbox_refuses_is_422_and_nothing_is_stored(source, field):
    reply = call("messages", template_event("PUT", "welcome", "de", {"subject": "Hi", "text": source, "html": "<p>hi</p>"}))
    assert (reply.status, reply["code"]) == (422, "INVALID_TEMPLATE"), reply.body
    assert any(field in problem["message"] for problem in reply["errors"]), reply["errors"]
    assert call("messages", template_event("GET", "welcome", "de"))["version"] == "default"
    assert not [item for item in table_items()["MessagesTable"]]


def test_templates_are_the_admin_s_and_kinds_and_locales_are_checked():
    assert call("messages", template_event("PUT", "welcome", "en", GOOD, scopes=POS)).status == 403
    assert call("messages", template_event("GET", "welcome", "en", scopes=MEMBER)).status == 403
    assert call("messages", template_event("PUT", "newsletter", "en", GOOD)).status == 422
    assert call("messages", template_event("PUT", "welcome", "english!", GOOD)).status == 422
    assert call("messages", template_event("GET", "welcome", "fr")).body["code"] == "TEMPLATE_NOT_FOUND"
    assert not table_items()["MessagesTable"]


def send_batch(*envelopes: dict, outbox) -> dict:
    records = [{"messageId": f"m-{n}", "receiptHandle": "r", "body": json.dumps(e), "eventSource": "aws:sqs"}
               for n, e in enumerate(envelopes)]
    sender = load_function("send_messages", LOCAL_OUTBOX_FILE=str(outbox))
    return sender.lambda_handler({"Records": records}, LambdaContext(function_name="send_messages"))


def envelope(detail_type: str, detail: dict) -> dict:
    return {"version": "0", "id": "x", "detail-type": detail_type, "source": "loyalty", "detail": detail}


def test_the_sender_writes_the_outbox_and_the_log_shows_kind_and_status_to_the_owner_only(tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    member_id = enroll("kim@example.com", scopes=MEMBER, sub="app-kim", name="Kim").body["member_id"]
    other = enroll("lee@example.com").body["member_id"]
    welcome = envelope("MemberEnrolled", {"event_id": "ev-1", "member_id": member_id, "points_balance": 0})
    assert send_batch(welcome, welcome, outbox=outbox) == {"batchItemFailures": []}
    (line,) = [json.loads(text) for text in outbox.read_text().splitlines()]
    request = line["request"]
    assert request["Destination"] == {"ToAddresses": ["kim@example.com"]}
    assert request["Content"]["Simple"]["Subject"]["Data"] == "Welcome to Bean There Rewards, Kim"
    log = call("messages", http_event("GET", "/v1/members/me/messages", scopes=MEMBER, sub="app-kim"))
    assert log.status == 200, log.body
    (item,) = log["items"]
    assert {k: item[k] for k in ("kind", "channel", "category", "template_version", "locale", "status")} == {
        "kind": "welcome", "channel": "email", "category": "service", "template_version": "default", "locale": "en",
        "status": "sent"}
    assert "kim@example.com" not in json.dumps(log.body) and "Welcome" not in json.dumps(log.body)
    stored = json.dumps(table_items()["MessagesTable"])
    assert "kim@example.com" not in stored and "Welcome" not in stored  # nor in the table: no address, no body
    admin = call("messages", http_event("GET", f"/v1/members/{member_id}/messages", scopes=ADMIN, sub="admin-1"))
    assert [i["kind"] for i in admin["items"]] == ["welcome"]
    stranger = call("messages", http_event("GET", f"/v1/members/{member_id}/messages", scopes=MEMBER, sub="app-lee"))
    assert stranger.status == 404
    assert call("messages", http_event("GET", f"/v1/members/{other}/messages", scopes=POS)).status == 403


def consents(member_id: str) -> list[tuple[bool, str]]:
    export = call("report", http_event("GET", f"/v1/members/{member_id}/export", scopes=ADMIN, sub="admin-1"))
    return [(c["marketing_opt_in"], c["by"]) for c in export["consents"]]


def test_one_click_unsubscribe_withdraws_marketing_consent_once_and_answers_200_when_repeated():
    member_id = enroll("ann@example.com", marketing_opt_in=True).body["member_id"]
    token = TOKENS.token(member_id)
    first = one_click(token)
    assert (first.status, first.body) == (200, {"unsubscribed": True})
    assert view(member_id).body["marketing_opt_in"] is False
    assert consents(member_id) == [(True, "terminal-1"), (False, "unsubscribe")]
    assert one_click(token).status == 200
    assert call("messages", unsubscribe_event(body=json.dumps({"token": token}))).status == 200
    assert consents(member_id) == [(True, "terminal-1"), (False, "unsubscribe")]  # repeated: nothing more written


def test_a_json_body_unsubscribes_too():
    member_id = enroll("bo@example.com", marketing_opt_in=True).body["member_id"]
    reply = call("messages", unsubscribe_event(body=json.dumps({"token": TOKENS.token(member_id)})))
    assert reply.status == 200, reply.body
    assert view(member_id).body["marketing_opt_in"] is False


def test_a_tampered_forged_or_foreign_token_is_400_and_changes_nothing():
    ann = enroll("ann@example.com", marketing_opt_in=True).body["member_id"]
    bob = enroll("bob@example.com", marketing_opt_in=True).body["member_id"]
    before = table_items()
    _, _, signature = TOKENS.token(bob).partition(".")
    for token in (f"{ann}.{signature}", TOKENS.token(ann)[:-1] + ("A" if TOKENS.token(ann)[-1] != "A" else "B"),
                  UnsubscribeTokens("someone-elses-key-0123456789").token(ann), ann, ""):
        reply = one_click(token)
        assert (reply.status, reply["code"]) == (400, "INVALID_UNSUBSCRIBE_TOKEN"), (token, reply.body)
    assert call("messages", unsubscribe_event(body=json.dumps({"token": 5}))).status == 400
    assert call("messages", unsubscribe_event(token=TOKENS.token(ann), body="List-Unsubscribe=Yes",
                                              content_type="application/x-www-form-urlencoded")).status == 415
    assert table_items() == before
    assert view(ann).body["marketing_opt_in"] is True and view(bob).body["marketing_opt_in"] is True


# ------------------------------------------------------------ the member's locale


def test_the_locale_is_set_at_enrolment_shown_changed_by_patch_and_picks_the_template(tmp_path):
    reply = enroll("uwe@example.com", locale="de-AT", name="Uwe")
    assert reply.status == 201, reply.body
    member_id = reply["member_id"]
    assert view(member_id).body["locale"] == "de-AT"
    send_batch(envelope("MemberEnrolled", {"event_id": "ev-de", "member_id": member_id, "points_balance": 50}),
               outbox=tmp_path / "outbox.jsonl")
    # no de-AT template: the program's locale (en)
    assert "Welcome to" in (tmp_path / "outbox.jsonl").read_text()
    patched = call("enroll", http_event("PATCH", f"/v1/members/{member_id}", body={"locale": "de"}, scopes=POS))
    assert (patched.status, patched["locale"]) == (200, "de")
    send_batch(envelope("TierChanged", {"event_id": "ev-t", "member_id": member_id, "from": "Bronze", "to": "Silver"}),
               outbox=tmp_path / "outbox.jsonl")
    assert "Sie sind jetzt Silver" in (tmp_path / "outbox.jsonl").read_text()
    cleared = call("enroll", http_event("PATCH", f"/v1/members/{member_id}", body={"locale": None}, scopes=POS))
    assert (cleared.status, cleared["locale"]) == (200, None)


@pytest.mark.parametrize("locale", ["english!", "e", "de_DE", "de-", "x" * 40, 5])
def test_a_locale_that_is_not_bcp_47_is_422_and_nothing_is_written(locale):
    before = table_items()
    reply = enroll("ivy@example.com", locale=locale)
    assert (reply.status, reply["code"]) == (422, "VALIDATION_ERROR"), reply.body
    assert table_items() == before


def test_erasure_clears_the_locale_and_forgets_the_message_log(tmp_path):
    member_id = enroll("zoe@example.com", locale="de").body["member_id"]
    send_batch(envelope("MemberEnrolled", {"event_id": "ev-z", "member_id": member_id, "points_balance": 50}),
               outbox=tmp_path / "outbox.jsonl")
    assert [i["kind"] for i in call("messages", http_event("GET", f"/v1/members/{member_id}/messages", scopes=ADMIN))["items"]] == ["welcome"]
    assert call("enroll", http_event("DELETE", f"/v1/members/{member_id}", scopes=ADMIN, sub="admin-1")).status == 200
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(TableName="MembersTable", Key={"pk": {"S": f"M#{member_id}"}})["Item"]
    assert "locale" not in item and "email" not in item
    # a message on its way when the erasure came is not sent, and the erasure's event deletes the log
    assert send_batch(envelope("TierChanged", {"event_id": "ev-z2", "member_id": member_id, "from": "Bronze", "to": "Silver"}),
                      envelope("MemberErased", {"event_id": "ev-z3", "member_id": member_id}),
                      outbox=tmp_path / "outbox.jsonl") == {"batchItemFailures": []}
    assert len((tmp_path / "outbox.jsonl").read_text().splitlines()) == 1
    assert not [i for i in table_items()["MessagesTable"] if i["pk"]["S"].startswith("L#")]


def test_the_export_lists_the_member_s_messages_and_the_unsubscribe_consent(tmp_path):
    member_id = enroll("eve@example.com", scopes=MEMBER, sub="app-eve", marketing_opt_in=True).body["member_id"]
    send_batch(envelope("MemberEnrolled", {"event_id": "ev-e", "member_id": member_id, "points_balance": 50}),
               envelope("TierChanged", {"event_id": "ev-e2", "member_id": member_id, "from": "Bronze", "to": "Silver"}),
               outbox=tmp_path / "outbox.jsonl")
    assert one_click(TOKENS.token(member_id)).status == 200
    export = call("report", http_event("GET", "/v1/members/me/export", scopes=MEMBER, sub="app-eve"))
    assert export.status == 200, export.body
    assert sorted((m["kind"], m["status"], m["channel"]) for m in export["messages"]) == [
        ("tier_changed", "sent", "email"), ("welcome", "sent", "email")]
    assert "eve@example.com" not in json.dumps(export["messages"])
    assert [(c["marketing_opt_in"], c["by"]) for c in export["consents"]] == [(True, "member"), (False, "unsubscribe")]


def test_the_sender_s_sample_event_sends_its_tier_message(tmp_path):
    from tests.conftest import ROOT

    member_id = enroll("sam@example.com", name="Sam").body["member_id"]
    batch = json.loads((ROOT / "events" / "send-messages-batch.json").read_text().replace("m8c15b73fd66c717dfde9", member_id))
    sender = load_function("send_messages", LOCAL_OUTBOX_FILE=str(tmp_path / "outbox.jsonl"))
    assert sender.lambda_handler(batch, LambdaContext(function_name="send_messages")) == {"batchItemFailures": []}
    (line,) = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert json.loads(line)["request"]["Content"]["Simple"]["Subject"]["Data"] == "You are Silver now"


def test_a_record_that_fails_for_now_is_reported_and_the_others_are_done(tmp_path):
    member_id = enroll("tom@example.com", name="Tom").body["member_id"]
    good = envelope("MemberEnrolled", {"event_id": "ev-ok", "member_id": member_id, "points_balance": 50})
    records = [{"messageId": "bad", "receiptHandle": "r", "body": "{not json", "eventSource": "aws:sqs"},
               {"messageId": "good", "receiptHandle": "r", "body": json.dumps(good), "eventSource": "aws:sqs"}]
    sender = load_function("send_messages", LOCAL_OUTBOX_FILE=str(tmp_path / "outbox.jsonl"))
    assert sender.lambda_handler({"Records": records}, LambdaContext(function_name="send_messages")) == {
        "batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert len((tmp_path / "outbox.jsonl").read_text().splitlines()) == 1


def test_the_local_gateway_serves_the_unsubscribe_route_without_a_token_and_every_other_route_with_one():
    from loyalty_local import apigw
    from loyalty_local.template import functions

    specs = functions()
    public = {(r.method, r.path) for spec in specs.values() for r in spec.routes if r.public}
    assert public == {("POST", "/v1/unsubscribe")}
    member_id = enroll("una@example.com", marketing_opt_in=True).body["member_id"]
    token = TOKENS.token(member_id)
    match = apigw.Router(specs).match("POST", "/v1/unsubscribe")
    request = apigw.Request("POST", "/v1/unsubscribe", f"token={quote(token)}",
                            {"content-type": "application/x-www-form-urlencoded"}, b"List-Unsubscribe=One-Click",
                            "127.0.0.1", 3000)
    event = apigw.http_event(match, request, None, "req-1")
    assert "authorizer" not in event["requestContext"]
    assert call("messages", event).status == 200
    assert view(member_id).body["marketing_opt_in"] is False
