"""Jobs survive a kill: the worker dies mid-batch (its Lambda timeout), right after a member's write was applied and
before it could answer; the queue delivers the batch again to a fresh instance; every member is changed once."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest

from loyalty import events
from loyalty.jobs import batches as jobs
from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from loyalty.program import Program
from loyalty.store.faults import FaultInjector, FaultPlan, install
from tests.conftest import PROGRAM, make_loyalty
from tests.functional.helpers import ledger_sum
from tests.jobs.test_events import stream_records
from tests.jobs.test_jobs import entries

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))
MEMBERS = 6
KILLED_AFTER = 3  # the third member's write is applied, then the function is gone


class Killed(BaseException):
    """The runtime ended the function: nothing after this point ran (not an Exception: no handler catches it)."""


@pytest.fixture
def kill_after_write(tables):
    """Every client created from now on: once armed (`writes["armed"] = 1`), the `KILLED_AFTER`th TransactWriteItems is
    applied, then the process dies."""
    from moto.core.models import botocore_stubber

    writes = Counter()

    def transport(event_name, request, **kwargs):
        response = botocore_stubber(event_name=event_name, request=request, **kwargs)
        if writes["armed"] and event_name.endswith(".TransactWriteItems"):
            writes["n"] += 1
            if writes["n"] == KILLED_AFTER:
                raise Killed
        return response

    uninstall = install(FaultInjector(FaultPlan.parse(""), transport=transport), replacing=botocore_stubber)
    yield writes
    uninstall()


def _versions(uc, member_ids: list[str]) -> dict[str, int]:
    return {member_id: uc.store.get_member(member_id).version for member_id in member_ids}


def _killed_then_redelivered(uc_at, batch: jobs.Batch, writes: Counter) -> dict[str, int]:
    """The batch on an instance killed mid-way, then on a fresh one (new clients, nothing carried over)."""
    with pytest.raises(Killed):
        uc = uc_at()
        jobs.Worker(uc.jobs, uc.reports).work(batch)
    assert writes["n"] == KILLED_AFTER
    uc = uc_at()
    return jobs.Worker(uc.jobs, uc.reports).work(jobs.Batch.from_json(batch.to_json()))


def test_expiry_killed_mid_batch_then_redelivered_expires_each_member_once(kill_after_write):
    earned, run_at = datetime(2025, 10, 10, 12, tzinfo=timezone.utc), datetime(2026, 11, 1, 0, 15, tzinfo=timezone.utc)
    uc = make_loyalty(earned)
    ids = [uc.enroll(STAFF, email=f"x{n}@example.com", channel="store").member_id for n in range(MEMBERS)]
    for n, member_id in enumerate(ids):
        uc.earn(STAFF, member_id, Purchase("t1", 1000 * (n + 1), "EUR"), payload={"n": n})
    before = _versions(uc, ids)
    kill_after_write["armed"] = 1
    result = _killed_then_redelivered(lambda: make_loyalty(run_at), jobs.Batch(jobs.EXPIRE, run_at, ids), kill_after_write)
    assert result["changed"] == MEMBERS - KILLED_AFTER, "the redelivery changes only who was not changed"
    assert _versions(uc, ids) == {member_id: version + 1 for member_id, version in before.items()}
    for n, member_id in enumerate(ids):
        [expired] = entries(member_id, "expire")
        assert -int(expired["points"]["N"]) == 50 + 10 * (n + 1), "the welcome bonus and the purchase's lot, once"
        assert uc.store.get_member(member_id).balance == 0 == ledger_sum(member_id)


def test_birthdays_killed_mid_batch_then_redelivered_credit_each_member_once(kill_after_write):
    enrolled, run_at = datetime(2026, 1, 5, 12, tzinfo=timezone.utc), datetime(2026, 11, 20, 0, 15, tzinfo=timezone.utc)
    uc = make_loyalty(enrolled)
    ids = [uc.enroll(STAFF, email=f"b{n}@example.com", channel="store", birthday=date(1990, 11, 20)).member_id
           for n in range(MEMBERS)]
    before = _versions(uc, ids)
    kill_after_write["armed"] = 1
    result = _killed_then_redelivered(lambda: make_loyalty(run_at), jobs.Batch(jobs.BIRTHDAY, run_at, ids), kill_after_write)
    assert result["points_credited"] == (MEMBERS - KILLED_AFTER) * PROGRAM.bonuses.birthday
    assert _versions(uc, ids) == {member_id: version + 1 for member_id, version in before.items()}
    for member_id in ids:
        assert [e["entry_key"]["S"] for e in entries(member_id, "bonus") if e["bonus"]["S"] == "birthday"] == [
            "bonus#birthday#2026"]
        assert ledger_sum(member_id) == 50 + PROGRAM.bonuses.birthday


def test_tier_reviews_killed_mid_batch_then_redelivered_move_each_member_once(kill_after_write):
    earned, run_at = datetime(2025, 11, 10, tzinfo=timezone.utc), datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)
    uc = make_loyalty(earned)
    ids = [uc.enroll(STAFF, email=f"t{n}@example.com", channel="store").member_id for n in range(MEMBERS)]
    for member_id in ids:
        uc.earn(STAFF, member_id, Purchase("t1", 60_000, "EUR"), payload={})
    assert {uc.store.get_member(member_id).tier for member_id in ids} == {"Silver"}
    before = _versions(uc, ids)
    kill_after_write["armed"] = 1
    result = _killed_then_redelivered(lambda: make_loyalty(run_at), jobs.Batch(jobs.REVIEW, run_at, ids), kill_after_write)
    assert result["changed"] == MEMBERS - KILLED_AFTER
    assert _versions(uc, ids) == {member_id: version + 1 for member_id, version in before.items()}
    assert {uc.store.get_member(member_id).tier for member_id in ids} == {"Bronze"}
    moves = Counter(event.detail["member_id"] for event in events.from_stream(stream_records("MembersTable"))
                    if event.detail_type == "TierChanged" and event.detail["reason"] == "tier_review")
    assert moves == dict.fromkeys(ids, 1)


def test_pending_releases_killed_mid_batch_then_redelivered_release_each_member_once(kill_after_write):
    program = Program.model_validate({**PROGRAM.model_dump(mode="json"),
                                      "earn": {**PROGRAM.model_dump(mode="json")["earn"], "pending_days": 14}})
    bought = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
    available = bought + timedelta(days=14)
    uc = make_loyalty(bought, program)
    ids = [uc.enroll(STAFF, email=f"p{n}@example.com", channel="store").member_id for n in range(MEMBERS)]
    for member_id in ids:
        uc.earn(STAFF, member_id, Purchase("t1", 10_000, "EUR"), payload={})
    before = _versions(uc, ids)
    kill_after_write["armed"] = 1
    result = _killed_then_redelivered(lambda: make_loyalty(available, program), jobs.Batch(jobs.EXPIRE, available, ids),
                                      kill_after_write)
    assert result["members"] == MEMBERS
    assert _versions(uc, ids) == {member_id: version + 1 for member_id, version in before.items()}
    for member_id in ids:
        stored = uc.store.get_member(member_id)
        assert (stored.balance, stored.pending) == (150, {}) and ledger_sum(member_id) == 150
    released = Counter(event.detail["member_id"] for event in events.from_stream(stream_records("MembersTable"))
                       if event.detail_type == "PointsAvailable")
    assert released == dict.fromkeys(ids, 1)
