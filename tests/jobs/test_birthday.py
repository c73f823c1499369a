"""The birthday bonus: the daily job credits it to the members whose birthday it is, once a year, through a
sparse, sharded index of birthdays (never a scan), on moto through the real dispatcher and worker."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import boto3
import pytest

from loyalty.jobs import batches as jobs
from loyalty.clock import FixedClock
from loyalty.domain import birthday, errors, ledger, scheduled
from loyalty.domain.model import Member
from loyalty.program import Program
from loyalty.store import keys
from loyalty.store.models import bind_members
from loyalty.store.records import member_to_record
from loyalty.jobs.store import JobIndex
from tests.conftest import PROGRAM, REGION, call, http_event, make_loyalty
from tests.functional.helpers import activity, ledger_sum
from tests.jobs.test_jobs import STAFF, entries, run

ENROLLED = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
BIRTHDAY_RUN = datetime(2026, 11, 20, 0, 15, tzinfo=timezone.utc)  # the daily schedule on 20 November 2026
BONUS = PROGRAM.bonuses.birthday


def enroll(uc, email: str, born: date | None, at: datetime = ENROLLED) -> str:
    uc.clock.at = at
    return uc.enroll(STAFF, email=email, channel="store", birthday=born).member_id


def birthday_entries(member_id: str) -> list[dict]:
    return [entry for entry in entries(member_id, "bonus") if entry["bonus"]["S"] == "birthday"]


@pytest.mark.usefixtures("tables")  # the program's published campaigns are read from the catalog table
def test_the_demo_program_gives_a_birthday_bonus_and_publishes_it():
    assert BONUS == 50
    reply = call("report", http_event("GET", "/v1/program"))
    assert reply.status == 200 and reply["bonuses"]["birthday"] == 50
    assert Program.model_validate({**PROGRAM.model_dump(), "bonuses": {"welcome": 0, "referral": 0}}).bonuses.birthday == 0


def test_the_rule_on_plain_values_and_a_program_without_a_birthday_bonus():
    member = Member(member_id="m1", email="a@example.com", enrolled_at=ENROLLED, channel="store", tier="Bronze",
                    referral_code="R1", birthday=date(1990, 11, 20))
    change = scheduled.birthday_bonus(member, PROGRAM, BIRTHDAY_RUN)
    assert change is not None and change.entry.ref == birthday.bonus_ref(BIRTHDAY_RUN, PROGRAM)
    assert (change.entry.type, change.entry.bonus, change.entry.points, change.member.balance) == ("bonus", "birthday", 50, 50)
    assert member.balance == 0, "the member given is not changed"
    assert scheduled.birthday_bonus(member, PROGRAM, BIRTHDAY_RUN - timedelta(minutes=16)) is None, "the 19th"
    none = Program.model_validate({**PROGRAM.model_dump(mode="json"), "bonuses": {"welcome": 50, "referral": 100, "birthday": 0}})
    assert scheduled.birthday_bonus(member, none, BIRTHDAY_RUN) is None


def test_a_member_gets_it_once_on_the_day_whatever_is_replayed_or_redelivered(uc, clock_file):
    member_id = enroll(uc, "bday@example.com", date(1990, 11, 20))
    enroll(uc, "other@example.com", date(1990, 11, 21))
    result = run("expire_points", BIRTHDAY_RUN, clock_file)
    assert result["birthdays"] == 1, "the daily job dispatched the one member whose birthday it is"
    [entry] = birthday_entries(member_id)
    assert int(entry["points"]["N"]) == BONUS and entry["entry_key"]["S"] == "bonus#birthday#2026"
    assert uc.store.get_member(member_id).balance == 50 + BONUS == ledger_sum(member_id)
    run("expire_points", BIRTHDAY_RUN, clock_file)  # the same day replayed
    run("expire_points", BIRTHDAY_RUN + timedelta(hours=20), clock_file)  # a second run later that day
    uc.clock.at = BIRTHDAY_RUN + timedelta(hours=21)
    worker = jobs.Worker(uc.jobs, uc.reports)
    redelivered = jobs.Batch.from_json(jobs.Batch(jobs.BIRTHDAY, BIRTHDAY_RUN, [member_id]).to_json())
    assert worker.work(redelivered)["points_credited"] == 0  # a queue message delivered again
    assert len(birthday_entries(member_id)) == 1
    assert uc.store.get_member(member_id).balance == 50 + BONUS == ledger_sum(member_id)
    run("expire_points", BIRTHDAY_RUN + timedelta(days=365), clock_file)  # once a year, every year
    assert [e["entry_key"]["S"] for e in birthday_entries(member_id)] == ["bonus#birthday#2026", "bonus#birthday#2027"]
    assert uc.store.get_member(member_id).balance == 2 * BONUS == ledger_sum(member_id), "the welcome lot expired meanwhile"


def test_the_bonus_counts_as_issued_and_expires_like_the_welcome_bonus(uc, clock_file):
    member_id = enroll(uc, "count@example.com", date(1985, 11, 20))
    run("expire_points", BIRTHDAY_RUN, clock_file)
    [entry] = birthday_entries(member_id)
    assert entry["expires_at"]["S"].startswith("2027-11-30T23:59:59")  # expiry.months (12) after the month credited
    member = uc.store.get_member(member_id)
    assert member.lots == {"2027-01": 50, "2027-11": BONUS} and member.qualifying == {}, "a bonus does not qualify for tiers"
    uc.clock.at = BIRTHDAY_RUN + timedelta(days=1)
    report = uc.program_report(date(2026, 11, 20), date(2026, 11, 20))
    assert report.total("points_issued") == BONUS


def test_not_on_the_day_of_enrolment_nor_before_it(uc, clock_file):
    on_the_day = enroll(uc, "today@example.com", date(1990, 11, 20), at=datetime(2026, 11, 20, 0, 5, tzinfo=timezone.utc))
    day_before = enroll(uc, "eve@example.com", date(1990, 11, 20), at=datetime(2026, 11, 19, 23, 59, tzinfo=timezone.utc))
    assert run("expire_points", BIRTHDAY_RUN, clock_file)["birthdays"] == 2
    assert birthday_entries(on_the_day) == [] and len(birthday_entries(day_before)) == 1
    uc.clock.at = BIRTHDAY_RUN
    assert uc.birthday_member(BIRTHDAY_RUN - timedelta(days=365), day_before) == 0, "a past year replayed: not yet enrolled"


def test_a_blocked_member_gets_nothing(uc, clock_file):
    from loyalty.domain.access import ADMIN_SCOPE, Caller

    member_id = enroll(uc, "blocked@example.com", date(1990, 11, 20))
    uc.block(Caller(sub="admin", scopes=frozenset({ADMIN_SCOPE})), member_id, "fraud")
    run("expire_points", BIRTHDAY_RUN, clock_file)
    assert birthday_entries(member_id) == [] and uc.store.get_member(member_id).balance == 50


def test_29_february_birthdays_are_celebrated_on_28_february_when_the_year_has_no_29th(uc, clock_file):
    assert birthday.celebrated_on(date(2027, 2, 28)) == ["02-28", "02-29"]
    assert birthday.celebrated_on(date(2028, 2, 28)) == ["02-28"] and birthday.celebrated_on(date(2028, 2, 29)) == ["02-29"]
    leapling = enroll(uc, "leap@example.com", date(2000, 2, 29))
    run("expire_points", datetime(2027, 2, 27, 0, 15, tzinfo=timezone.utc), clock_file)
    assert birthday_entries(leapling) == []
    run("expire_points", datetime(2027, 2, 28, 0, 15, tzinfo=timezone.utc), clock_file)
    run("expire_points", datetime(2027, 3, 1, 0, 15, tzinfo=timezone.utc), clock_file)
    assert [e["created_at"]["S"][:10] for e in birthday_entries(leapling)] == ["2027-02-28"]
    run("expire_points", datetime(2028, 2, 28, 0, 15, tzinfo=timezone.utc), clock_file)  # a leap year: not yet
    assert len(birthday_entries(leapling)) == 1
    run("expire_points", datetime(2028, 2, 29, 0, 15, tzinfo=timezone.utc), clock_file)
    assert [e["created_at"]["S"][:10] for e in birthday_entries(leapling)] == ["2027-02-28", "2028-02-29"]


def test_the_birthday_begins_at_midnight_in_the_programs_time_zone(tables, clock_file, tmp_path):
    tokyo = Program.model_validate({**PROGRAM.model_dump(mode="json"), "time_zone": "Asia/Tokyo"})
    program_file = tmp_path / "program.json"
    program_file.write_text(json.dumps(tokyo.model_dump(mode="json")))
    uc = make_loyalty(program=tokyo)
    member_id = enroll(uc, "tokyo@example.com", date(1990, 3, 15))
    late_on_the_14th = datetime(2027, 3, 14, 14, 59, tzinfo=timezone.utc)  # 23:59 on 14 March in Tokyo
    assert run("expire_points", late_on_the_14th, clock_file, PROGRAM_FILE=str(program_file))["birthdays"] == 0
    midnight = datetime(2027, 3, 14, 15, 0, tzinfo=timezone.utc)  # 00:00 on 15 March in Tokyo, still the 14th in UTC
    assert run("expire_points", midnight, clock_file, PROGRAM_FILE=str(program_file))["birthdays"] == 1
    assert [e["entry_key"]["S"] for e in birthday_entries(member_id)] == ["bonus#birthday#2027"]
    # The last minute of the 15th in Tokyo (the 15th in UTC too) is the same day: nothing more.
    run("expire_points", datetime(2027, 3, 15, 14, 59, tzinfo=timezone.utc), clock_file, PROGRAM_FILE=str(program_file))
    assert len(birthday_entries(member_id)) == 1


def test_a_member_without_a_birthday_is_not_in_the_index_and_never_gets_it(uc, clock_file):
    member_id = enroll(uc, "nobday@example.com", None)
    dated = enroll(uc, "dated@example.com", date(1990, 11, 20))
    client = boto3.client("dynamodb", region_name=REGION)
    item = client.get_item(TableName="MembersTable", Key={"pk": {"S": keys.member_pk(member_id)}})["Item"]
    assert "birthday_shard" not in item
    dated_item = client.get_item(TableName="MembersTable", Key={"pk": {"S": keys.member_pk(dated)}})["Item"]
    assert dated_item["birthday_shard"]["S"] == keys.birthday_shard(dated, "11-20", 16)
    for day in (BIRTHDAY_RUN, datetime(2027, 2, 28, 0, 15, tzinfo=timezone.utc)):
        run("expire_points", day, clock_file)
    assert birthday_entries(member_id) == []
    uc.clock.at = BIRTHDAY_RUN
    assert jobs.Worker(uc.jobs, uc.reports).work(jobs.Batch(jobs.BIRTHDAY, BIRTHDAY_RUN, [member_id]))["points_credited"] == 0


def test_the_index_follows_a_changed_birthday_and_the_worker_rechecks_it(uc):
    member_id = enroll(uc, "moved@example.com", date(1990, 11, 20))
    index = JobIndex(bind_members("MembersTable", REGION), job_shards=16)
    shard = keys.shard_of(member_id, 16)
    assert list(index.birthday_member_ids(shard, "11-20")) == [member_id]
    before = uc.store.get_member(member_id)
    changed = before.copy()
    changed.birthday, changed.version = date(1990, 12, 24), before.version + 1  # as a profile change writes it
    uc.store.commit(ledger.Change([changed]), {member_id: before.version}, {member_id: ledger.job_schedule(changed, PROGRAM)}, {})
    assert list(index.birthday_member_ids(shard, "11-20")) == [] and list(index.birthday_member_ids(shard, "12-24")) == [member_id]
    uc.clock.at = BIRTHDAY_RUN
    # A batch queued before the change (the index is eventually consistent): the member's own birthday decides.
    assert uc.birthday_member(BIRTHDAY_RUN, member_id) == 0 and birthday_entries(member_id) == []


def test_a_time_ahead_of_the_clock_is_refused_by_dispatcher_and_worker(uc, clock_file):
    from tests.functional.helpers import table_items

    member_id = enroll(uc, "ahead@example.com", date(1990, 11, 20))
    before = table_items()
    with pytest.raises(errors.TimeAhead):
        run("expire_points", BIRTHDAY_RUN, clock_file, clock_at=BIRTHDAY_RUN - timedelta(hours=1))
    uc.clock.at = BIRTHDAY_RUN - timedelta(hours=1)
    with pytest.raises(errors.TimeAhead):
        uc.birthday_member(BIRTHDAY_RUN, member_id)
    assert table_items() == before


def _populate(count: int) -> None:
    """`count` members born on other days of the year, written directly (an index entry each)."""
    model = bind_members("MembersTable", REGION)
    with model.batch_write() as batch:
        for number in range(count):
            born = date(1990, 1, 1) + timedelta(days=number % 300)  # 1 January to 27 October: never 20 November
            member = Member(member_id=f"m{number:020d}", email=f"p{number}@example.com", enrolled_at=ENROLLED, channel="store",
                            tier="Bronze", referral_code=f"P{number:07d}", birthday=born, version=1)
            batch.save(member_to_record(member, model, ledger.job_schedule(member, PROGRAM), 16))


def test_among_many_members_the_job_reads_only_the_days_index_entries(uc):
    due = [enroll(uc, f"due{number}@example.com", date(1980 + number, 11, 20)) for number in range(2)]
    _populate(400)
    index = JobIndex(bind_members("MembersTable", REGION), job_shards=16)
    reads: list[tuple[str, dict]] = []
    index.on_request(lambda operation, params: reads.append((operation, params)))
    writes: list[str] = []
    uc.store.on_request(lambda operation, params: writes.append(operation))
    uc.clock.at = BIRTHDAY_RUN
    dispatcher = jobs.Dispatcher(index, FixedClock(BIRTHDAY_RUN), jobs.Worker(uc.jobs, uc.reports).work_all)
    assert dispatcher.dispatch(jobs.BIRTHDAY, BIRTHDAY_RUN) == 2
    assert [operation for operation, _ in reads] == ["Query"] * 16, "one Query per shard, no Scan"
    assert {params["IndexName"] for _, params in reads} == {"by_birthday"}
    partitions = sorted(next(iter(params["ExpressionAttributeValues"].values()))["S"] for _, params in reads)
    assert partitions == sorted(keys.birthday_index_shard("11-20", shard) for shard in range(16))
    assert writes == ["TransactGetItems", "TransactWriteItems"] * 2, "one read and one write per member credited"
    assert all(len(birthday_entries(member_id)) == 1 for member_id in due)


def test_the_activity_shows_a_birthday_bonus(uc, clock_file):
    member_id = enroll(uc, "feed@example.com", date(1990, 11, 20))
    run("expire_points", BIRTHDAY_RUN, clock_file)
    reply = activity(member_id)
    assert reply.status == 200
    top = reply["items"][0]
    assert (top["type"], top["bonus"], top["points"]) == ("bonus", "birthday", BONUS)
    assert [(item["type"], item["bonus"]) for item in reply["items"][1:]] == [("bonus", "welcome")]


def test_the_pynamodb_indexes_are_the_templates():
    """The moto tables come from template.yaml; the record classes must name the same indexes and keys."""
    from loyalty.store.models import MemberModel
    from loyalty_local.template import load_template

    table = load_template()["Resources"]["MembersTable"]["Properties"]
    declared = {index["IndexName"]: (index["KeySchema"], index["Projection"]["ProjectionType"])
                for index in table["GlobalSecondaryIndexes"]}
    for name in ("by_due", "by_review", "by_birthday"):
        model_index = getattr(MemberModel, name)
        schema = sorted(({"AttributeName": attribute.attr_name, "KeyType": "HASH" if attribute.is_hash_key else "RANGE"}
                         for attribute in model_index.Meta.attributes.values()), key=lambda key: key["KeyType"])
        assert declared[name] == (schema, "KEYS_ONLY"), name
