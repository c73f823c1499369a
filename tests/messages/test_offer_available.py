"""The `offer_available` message end to end, through the functions: an admin defines a segment and starts a campaign
whose audience names it (10-50% held out), the nightly snapshot runs twice, its `OfferAvailable` events reach the
sender twice, and each member of the audience who is not held out and opted in gets exactly one e-mail; held-out
members, members outside the audience and a campaign for everyone get none."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from loyalty.domain.holdout import held_out
from loyalty.messages.offer_announcements import offer_event_id
from tests.conftest import LambdaContext, call, http_event, load_function
from tests.functional.helpers import ADMIN, enroll

pytestmark = pytest.mark.usefixtures("tables")

APP_USERS = {"segment_id": "app-users", "name": "App users", "description": "Enrolled in the app",
             "conditions": {"all": [{"fact": "member.channel", "op": "eq", "value": "app"}]}}
CAMPAIGN = "app-double"


def admin(method: str, path: str, body=None):
    return call("campaigns", http_event(method, path, body=body, scopes=ADMIN, sub="admin-1"))


def start(document: dict) -> None:
    assert admin("POST", "/v1/campaigns", document).status == 201
    assert admin("POST", f"/v1/campaigns/{document['campaign_id']}/activate").status == 200


def snapshot(tmp_path, events_file) -> dict:
    function = load_function("snapshot", ANALYTICS_DIR=str(tmp_path / "analytics"), LOCAL_EVENTS_FILE=str(events_file))
    return function.lambda_handler({}, LambdaContext(function_name="snapshot"))


def published(events_file) -> list[dict]:
    return [json.loads(line) for line in events_file.read_text().splitlines()] if events_file.exists() else []


def deliver(envelopes: list[dict], outbox) -> dict:
    records = [{"messageId": f"r-{n}", "receiptHandle": "r", "eventSource": "aws:sqs",
                "body": json.dumps({"version": "0", "source": "loyalty", **e})} for n, e in enumerate(envelopes)]
    sender = load_function("send_messages", LOCAL_OUTBOX_FILE=str(outbox))
    return sender.lambda_handler({"Records": records}, LambdaContext(function_name="send_messages"))


def log(member_id: str) -> list[tuple]:
    answer = call("messages", http_event("GET", f"/v1/members/{member_id}/messages", scopes=ADMIN, sub="admin-1"))
    return sorted((item["kind"], item["status"], item.get("reason")) for item in answer["items"])


def test_each_member_the_offer_is_for_hears_of_it_once_and_nobody_else_does(tmp_path):
    assert admin("POST", "/v1/segments", APP_USERS).status == 201
    # App members who opted in, until both sides of the campaign's 50% holdout have two (ids are random)
    opted, number = [], 0
    while sum(held_out(CAMPAIGN, m, 50) for m in opted) < 2 or sum(not held_out(CAMPAIGN, m, 50) for m in opted) < 2:
        reply = enroll(f"app{number}@example.com", name=f"App {number}", channel="app", marketing_opt_in=True)
        opted.append(reply.body["member_id"])
        number += 1
        assert number < 200
    quiet = [enroll(f"quiet{n}@example.com", name="Quiet", channel="app").body["member_id"] for n in range(4)]
    store = [enroll(f"store{n}@example.com", name="Store", channel="store", marketing_opt_in=True).body["member_id"]
             for n in range(3)]
    ends_at = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    start({"campaign_id": CAMPAIGN, "name": "Double points in the app", "description": "Every purchase in the app",
           "ends_at": ends_at.isoformat().replace("+00:00", "Z"), "effect": {"type": "multiply", "factor": "2"},
           "audience": {"segments": ["app-users"]}, "holdout_percent": 50})
    start({"campaign_id": "for-everyone", "name": "For everyone", "effect": {"type": "bonus", "points": 10}})

    events_file = tmp_path / "events.jsonl"
    first, second = snapshot(tmp_path, events_file), snapshot(tmp_path, events_file)  # the job run twice
    offers = [e for e in published(events_file) if e["detail-type"] == "OfferAvailable"]
    treated = {m for m in opted + quiet if not held_out(CAMPAIGN, m, 50)}
    assert sorted(e["detail"]["member_id"] for e in offers) == sorted(treated), "once each, the audience not held out"
    assert (first["offers_announced"], second["offers_announced"]) == (len(treated), 0)
    assert {e["detail"]["campaign_id"] for e in offers} == {CAMPAIGN}, "a campaign for everyone is no personal offer"
    for event in offers:
        detail = event["detail"]
        assert detail == {"event_id": offer_event_id(CAMPAIGN, detail["member_id"]), "member_id": detail["member_id"],
                          "campaign_id": CAMPAIGN, "name": "Double points in the app",
                          "description": "Every purchase in the app", "activation": "automatic", "starts_at": None,
                          "ends_at": ends_at.isoformat().replace("+00:00", "Z")}
    assert "@example.com" not in json.dumps(offers), "events name the member by id only"

    outbox = tmp_path / "outbox.jsonl"
    assert deliver(offers + offers, outbox) == {"batchItemFailures": []}  # every event delivered twice
    lines = [json.loads(text) for text in outbox.read_text().splitlines()]
    wanted = sorted(f"app{opted.index(m)}@example.com" for m in opted if m in treated)
    assert sorted(line["request"]["Destination"]["ToAddresses"][0] for line in lines) == wanted
    for line in lines:
        simple = line["request"]["Content"]["Simple"]
        assert simple["Subject"]["Data"] == "New for you: Double points in the app"
        assert f"until {ends_at.date().isoformat()}" in simple["Body"]["Text"]["Data"]
        assert "Every purchase in the app" in simple["Body"]["Text"]["Data"]
        assert {h["Name"] for h in simple["Headers"]} == {"List-Unsubscribe", "List-Unsubscribe-Post"}  # marketing
        assert {t["Name"]: t["Value"] for t in line["request"]["EmailTags"]} == {"category": "marketing",
                                                                                 "kind": "offer_available"}
    for member_id in opted:  # (the welcome's MemberEnrolled was not published here: only the snapshot's events)
        assert log(member_id) == ([("offer_available", "sent", None)] if member_id in treated else []), member_id
    for member_id in quiet:
        assert log(member_id) == ([("offer_available", "not_sent", "no_consent")] if member_id in treated else []), member_id
    for member_id in store:
        assert log(member_id) == []


def test_an_offer_that_requires_activation_is_announced_to_every_member_not_held_out(tmp_path):
    members = [enroll(f"m{n}@example.com", name="M", channel=("app", "store")[n % 2], marketing_opt_in=True).body["member_id"]
               for n in range(6)]
    start({"campaign_id": "activate-me", "name": "Activate me", "activation": "required", "holdout_percent": 20,
           "effect": {"type": "bonus", "points": 50}})
    events_file = tmp_path / "events.jsonl"
    snapshot(tmp_path, events_file)
    offers = [e["detail"] for e in published(events_file) if e["detail-type"] == "OfferAvailable"]
    assert sorted(d["member_id"] for d in offers) == sorted(m for m in members if not held_out("activate-me", m, 20))
    assert {(d["activation"], d["ends_at"]) for d in offers} <= {("required", None)}


def test_the_sender_s_offer_sample_sends_its_offer_message(tmp_path):
    from tests.conftest import ROOT

    member_id = enroll("olga@example.com", name="Olga", marketing_opt_in=True, locale="de").body["member_id"]
    text = (ROOT / "events" / "send-messages-offer-available.json").read_text().replace("m8c15b73fd66c717dfde9", member_id)
    sender = load_function("send_messages", LOCAL_OUTBOX_FILE=str(tmp_path / "outbox.jsonl"))
    assert sender.lambda_handler(json.loads(text), LambdaContext(function_name="send_messages")) == {"batchItemFailures": []}
    (line,) = (tmp_path / "outbox.jsonl").read_text().splitlines()
    simple = json.loads(line)["request"]["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Neu für Sie: Win-back: 200 points"  # the member's locale
    assert "bis 2027-01-31" in simple["Body"]["Text"]["Data"]


def test_an_offer_event_delivered_to_two_senders_at_once_sends_one_e_mail(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    members = [enroll(f"race{n}@example.com", name="Race", marketing_opt_in=True).body["member_id"] for n in range(4)]
    start({"campaign_id": "race", "name": "Race", "activation": "required", "effect": {"type": "bonus", "points": 5}})
    events_file = tmp_path / "events.jsonl"
    snapshot(tmp_path, events_file)
    offers = [e for e in published(events_file) if e["detail-type"] == "OfferAvailable"]
    assert len(offers) == len(members)
    outbox = tmp_path / "outbox.jsonl"
    senders = [load_function("send_messages", instance, LOCAL_OUTBOX_FILE=str(outbox)) for instance in (0, 1)]
    barrier = Barrier(2)

    def deliver_with(sender):
        records = [{"messageId": f"r-{n}", "receiptHandle": "r", "eventSource": "aws:sqs",
                    "body": json.dumps({"version": "0", "source": "loyalty", **e})} for n, e in enumerate(offers)]
        barrier.wait()
        return sender.lambda_handler({"Records": records}, LambdaContext(function_name="send_messages"))

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(deliver_with, senders)) == [{"batchItemFailures": []}] * 2
    sent = [json.loads(line)["request"]["Destination"]["ToAddresses"][0] for line in outbox.read_text().splitlines()]
    assert sorted(sent) == sorted(f"race{n}@example.com" for n in range(4)), "one e-mail per member, not two"
