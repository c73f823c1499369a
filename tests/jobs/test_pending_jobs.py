"""Pending points through the store, the daily job and the event stream (program with `earn.pending_days`)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from loyalty.members.api import MemberView
from loyalty.privacy.api import MemberRecord
from loyalty.domain import errors
from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from loyalty.program import Program
from tests.conftest import PROGRAM, LambdaContext, load_function, make_loyalty
from tests.jobs.test_events import stream_records
from tests.jobs.test_jobs import entries, run

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))
BOUGHT = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
AVAILABLE = BOUGHT + timedelta(days=14)  # 2026-12-04 09:30 UTC


@pytest.fixture
def pending_program(tmp_path):
    document = PROGRAM.model_dump(mode="json")
    program = Program.model_validate({**document, "earn": {**document["earn"], "pending_days": 14}})
    program_file = tmp_path / "program.json"
    program_file.write_text(json.dumps(program.model_dump(mode="json")))
    return program, str(program_file)


def test_pending_points_become_available_on_read_and_the_daily_job_stores_it(tables, clock_file, pending_program, tmp_path):
    program, program_file = pending_program
    uc = make_loyalty(BOUGHT, program)
    member_id = uc.enroll(STAFF, email="p@example.com", channel="store").member_id
    earned = uc.earn(STAFF, member_id, Purchase("t1", 10_000, "EUR"), payload={"a": 1}).entry
    assert earned.available_at == AVAILABLE and earned.balance_after == 50  # the welcome bonus only
    with pytest.raises(errors.InsufficientPoints):
        uc.redeem(STAFF, member_id, idempotency_key="k1", payload={}, points=60)

    uc.clock.at = AVAILABLE
    shown = MemberView.of(uc.member(STAFF, member_id), program, uc.clock.now())
    assert shown.points_balance == 150, "a read at available_at shows them available"
    assert uc.store.get_member(member_id).pending, "... without writing"

    run("expire_points", AVAILABLE - timedelta(seconds=1), clock_file, PROGRAM_FILE=program_file)
    assert uc.store.get_member(member_id).pending
    run("expire_points", AVAILABLE, clock_file, PROGRAM_FILE=program_file)
    stored = uc.store.get_member(member_id)
    assert (stored.balance, stored.pending, stored.qualifying) == (150, {}, {"2026-12": 100})
    assert entries(member_id, "expire") == []

    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    publisher.lambda_handler({"Records": stream_records("MembersTable")}, LambdaContext(function_name="publish_events"))
    published = [json.loads(line)["detail"] for line in sink.read_text().splitlines()
                 if json.loads(line)["detail-type"] == "PointsAvailable"]
    assert [(e["member_id"], e["points"], e["available_at"]) for e in published] == [
        (member_id, 100, "2026-12-04T09:30:00Z")]


def test_a_return_inside_the_window_announces_nothing_and_counts_nothing(tables, clock_file, pending_program, tmp_path):
    program, program_file = pending_program
    uc = make_loyalty(BOUGHT, program)
    member_id = uc.enroll(STAFF, email="r@example.com", channel="store").member_id
    uc.earn(STAFF, member_id, Purchase("t1", 10_000, "EUR"), payload={"a": 1})
    uc.clock.at = BOUGHT + timedelta(days=3)
    returned = uc.return_purchase(STAFF, member_id, transaction_id="t1", return_id="r1", amount_minor=10_000,
                                  payload={"r": 1}).entry
    assert (returned.points, returned.points_unrecovered) == (-100, 0)
    run("expire_points", AVAILABLE, clock_file, PROGRAM_FILE=program_file)
    stored = uc.store.get_member(member_id)
    assert (stored.balance, stored.pending, stored.qualifying) == (50, {}, {})

    sink = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(sink))
    publisher.lambda_handler({"Records": stream_records("MembersTable")}, LambdaContext(function_name="publish_events"))
    assert "PointsAvailable" not in sink.read_text()


def test_every_member_view_shows_points_available_once_their_time_has_come(tables, pending_program):
    program, _ = pending_program
    uc = make_loyalty(BOUGHT, program)
    member_id = uc.enroll(STAFF, email="v@example.com", channel="store").member_id
    uc.earn(STAFF, member_id, Purchase("t1", 10_000, "EUR"), payload={"a": 1})
    found = uc.find_by_email(STAFF, "V@example.com")  # the lookup, like the view by id, reads the stored member
    before = MemberView.of(found, program, AVAILABLE - timedelta(seconds=1))
    assert (before.points_balance, before.points_pending) == (50, 100)
    assert [(lot.points, lot.available_at) for lot in before.pending] == [(100, AVAILABLE)]
    after = MemberView.of(found, program, AVAILABLE)
    assert (after.points_balance, after.points_pending, after.pending) == (150, 0, [])
    exported = MemberRecord.of(found, program, AVAILABLE)
    assert exported.qualifying_points_by_month == {"2026-12": 100} and sum(lot.points for lot in exported.lots) == 150
