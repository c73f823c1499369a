"""The birthday message end to end: the daily job credits the birthday bonus (once a year, however often it runs),
the ledger's stream announces it (BirthdayBonusCredited), and the sender turns it into one marketing e-mail for a
member who opted in, none for one who did not, and none twice when the event comes again."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from loyalty import events
from loyalty.messages.kinds import KINDS, triggered
from tests.conftest import LambdaContext, call, http_event, load_function, make_loyalty
from tests.functional.helpers import ADMIN
from tests.jobs.test_events import stream_records
from tests.jobs.test_jobs import STAFF, run

ENROLLED = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
BIRTHDAY_RUN = datetime(2026, 11, 20, 0, 15, tzinfo=timezone.utc)  # the daily job on 20 November 2026 (UTC program)


@pytest.fixture
def uc(tables):
    return make_loyalty()


@pytest.fixture
def clock_file(tables, tmp_path):
    """The functions' business clock (LOCAL_CLOCK_FILE, as the local runtime keeps it); `run` moves it."""
    return tmp_path / "job-clock.json"


def published(tmp_path) -> list[dict]:
    """Every event the stream publisher derives from the members' and the ledger's streams so far."""
    sink = tmp_path / "events.jsonl"
    sink.unlink(missing_ok=True)
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    for table in ("MembersTable", "LedgerTable"):
        publisher.lambda_handler({"Records": stream_records(table)}, LambdaContext(function_name="publish_events"))
    return [json.loads(line) for line in sink.read_text().splitlines()] if sink.exists() else []


def deliver(envelopes: list[dict], outbox, clock_file) -> dict:
    records = [{"messageId": f"r-{n}", "receiptHandle": "r", "eventSource": "aws:sqs",
                "body": json.dumps({"version": "0", "source": "loyalty", **e})} for n, e in enumerate(envelopes)]
    sender = load_function("send_messages", LOCAL_OUTBOX_FILE=str(outbox), LOCAL_CLOCK_FILE=str(clock_file))
    return sender.lambda_handler({"Records": records}, LambdaContext(function_name="send_messages"))


def test_a_birthday_sends_one_birthday_e_mail_to_a_member_who_opted_in(uc, clock_file, tmp_path):
    uc.clock.at = ENROLLED
    fan = uc.enroll(STAFF, email="fan@example.com", channel="store", name="Fan", birthday=date(1990, 11, 20),
                    marketing_opt_in=True).member_id
    quiet = uc.enroll(STAFF, email="quiet@example.com", channel="store", name="Quiet", birthday=date(1985, 11, 20)).member_id
    other_day = uc.enroll(STAFF, email="june@example.com", channel="store", birthday=date(1990, 6, 1),
                          marketing_opt_in=True).member_id
    run("expire_points", BIRTHDAY_RUN, clock_file)
    run("expire_points", BIRTHDAY_RUN + timedelta(hours=5), clock_file)  # the job run twice on the day

    birthdays = [e for e in published(tmp_path) if e["detail-type"] == "BirthdayBonusCredited"]
    bonus = 50  # the demo program's bonuses.birthday
    assert sorted((e["detail"]["member_id"], e["detail"]["points"], e["detail"]["year"]) for e in birthdays) == sorted(
        [(fan, bonus, 2026), (quiet, bonus, 2026)]), "once per member and year; not for another day's birthday"
    assert other_day not in {e["detail"]["member_id"] for e in birthdays}
    assert "fan@example.com" not in json.dumps(birthdays), "events name the member by id only"

    outbox = tmp_path / "outbox.jsonl"
    wanted = [e for e in published(tmp_path) if e["detail-type"] in {"BirthdayBonusCredited"}]
    assert deliver(wanted + wanted, outbox, clock_file) == {"batchItemFailures": []}  # every event delivered twice
    lines = [json.loads(text) for text in outbox.read_text().splitlines()]
    assert [line["request"]["Destination"]["ToAddresses"] for line in lines] == [["fan@example.com"]]
    simple = lines[0]["request"]["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Happy birthday, Fan!" and f"{bonus} bonus points" in simple["Body"]["Text"]["Data"]
    assert {h["Name"] for h in simple["Headers"]} == {"List-Unsubscribe", "List-Unsubscribe-Post"}  # marketing
    assert {t["Name"]: t["Value"] for t in lines[0]["request"]["EmailTags"]} == {"category": "marketing", "kind": "birthday"}

    def log(member_id):
        answer = call("messages", http_event("GET", f"/v1/members/{member_id}/messages", scopes=ADMIN, sub="admin-1"))
        return [(i["kind"], i["status"], i.get("reason")) for i in answer["items"]]

    assert log(fan) == [("birthday", "sent", None)]
    assert log(quiet) == [("birthday", "not_sent", "no_consent")]

    run("expire_points", BIRTHDAY_RUN + timedelta(days=365), clock_file)  # a year on: the next birthday
    next_year = [e for e in published(tmp_path) if e["detail-type"] == "BirthdayBonusCredited" and e["detail"]["year"] == 2027]
    assert sorted(e["detail"]["member_id"] for e in next_year) == sorted([fan, quiet])
    assert deliver(next_year, outbox, clock_file) == {"batchItemFailures": []}
    assert len(outbox.read_text().splitlines()) == 2


def test_the_birthday_event_triggers_the_birthday_kind_with_its_bonus():
    trigger = triggered("BirthdayBonusCredited", {"event_id": "e1", "member_id": "m", "points": 75, "year": 2026})
    assert (trigger.kind, trigger.event_id, trigger.member_id, trigger.values) == (KINDS["birthday"], "e1", "m", {"points": 75})
    assert KINDS["birthday"].trigger == "BirthdayBonusCredited"


@pytest.mark.parametrize("bonus,announced", [("welcome", []), ("referral", ["ReferralBonusCredited"])])
def test_only_the_birthday_bonus_entry_is_announced_as_one(bonus, announced):
    entry = {"member_id": "m1", "entry_key": f"bonus#{bonus}#x", "entry_id": "e_1", "balance_after": 50, "points": 50,
             "type": "bonus", "bonus": bonus, "created_at": "2026-11-20T00:15:03.000000+0000", "created_seq": 1}
    image = {name: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for name, v in entry.items()}
    # A welcome bonus is MemberEnrolled's; a referral bonus has an event of its own, which sends no message.
    assert [event.detail_type for event in events.from_ledger_item(image)] == announced
    assert all(triggered(kind, {"event_id": "e1", "member_id": "m1", "points": 50}) is None for kind in announced)
    birthday = {**image, "entry_key": {"S": "bonus#birthday#2026"}, "bonus": {"S": "birthday"}}
    (event,) = events.from_ledger_item(birthday)
    assert (event.detail_type, event.detail["year"], event.detail["points"]) == ("BirthdayBonusCredited", 2026, 50)
    assert event.detail["event_id"] == events.ledger_event_id({"member_id": "m1", "entry_key": "bonus#birthday#2026"})


def test_the_sender_s_birthday_sample_sends_its_birthday_message(tables, tmp_path):
    from tests.conftest import ROOT
    from tests.functional.helpers import enroll

    member_id = enroll("bea@example.com", name="Bea", marketing_opt_in=True).body["member_id"]
    batch = json.loads((ROOT / "events" / "send-messages-birthday.json").read_text().replace("m8c15b73fd66c717dfde9", member_id))
    sender = load_function("send_messages", LOCAL_OUTBOX_FILE=str(tmp_path / "outbox.jsonl"))
    assert sender.lambda_handler(batch, LambdaContext(function_name="send_messages")) == {"batchItemFailures": []}
    (line,) = (tmp_path / "outbox.jsonl").read_text().splitlines()
    simple = json.loads(line)["request"]["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Happy birthday, Bea!" and "50 bonus points" in simple["Body"]["Text"]["Data"]
