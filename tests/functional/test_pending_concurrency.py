"""A redemption racing the activation of the same pending points (moto in server mode, atomic as DynamoDB)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from loyalty.domain import ledger
from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from loyalty.program import Program
from tests.conftest import PROGRAM, LambdaContext, load_function, make_loyalty
from tests.functional.helpers import earn, enroll, redeem, view
from tests.functional.test_concurrency import THREADS, _ledger, moto_server  # noqa: F401 (the fixture)
from tests.jobs.test_jobs import scheduled


def test_a_redemption_racing_the_activation_spends_the_points_once(moto_server, tmp_path):  # noqa: F811
    document = PROGRAM.model_dump(mode="json")
    program = Program.model_validate({**document, "earn": {**document["earn"], "pending_days": 14}})
    (tmp_path / "program.json").write_text(json.dumps(program.model_dump(mode="json")))
    clock = tmp_path / "clock.json"
    clock.write_text(json.dumps({"offset_seconds": 0}))
    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server, "PROGRAM_FILE": str(tmp_path / "program.json"),
           "LOCAL_CLOCK_FILE": str(clock)}
    member_id = enroll(env=env)["member_id"]
    earned = earn(member_id, "t-1", 10_000, env=env)  # 100 pending, 50 (welcome) available
    assert earned.status == 201 and earned["balance"] == 50 and earned["available_at"]
    assert redeem(member_id, "early", points=100, env=env)["code"] == "INSUFFICIENT_POINTS"

    later = timedelta(days=14, minutes=1)
    clock.write_text(json.dumps({"offset_seconds": later.total_seconds()}))
    job = load_function("expire_points", **env).lambda_handler
    moment = datetime.now(timezone.utc) + later

    def act(index: int):
        if index == 0:
            return job(scheduled(moment), LambdaContext(function_name="expire_points"))
        return redeem(member_id, f"key-{index}", points=100, instance=index, env=env)

    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(act, range(THREADS)))[1:]
    successes = [reply for reply in replies if reply.status in (200, 201)]
    assert len({reply["redemption_id"] for reply in successes}) == 1, [(r.status, r.body) for r in replies]
    assert all(reply.body.get("code") in ("INSUFFICIENT_POINTS", "TRY_AGAIN") for reply in replies if reply not in successes)
    ledger = _ledger(moto_server, member_id)
    member = view(member_id, env=env)
    assert (member["points_balance"], member["points_pending"], member["pending"]) == (50, 0, [])
    assert sum(int(item["points"]["N"]) for item in ledger) == 50
    assert sum(item["type"]["S"] == "redeem" for item in ledger) == 1


@pytest.mark.usefixtures("tables")
def test_pending_points_cost_no_extra_round_trip_earn_2_redeem_2_view_1():
    """Settling is done in memory on the member just read: a pending program keeps every call's requests."""
    document = PROGRAM.model_dump(mode="json")
    program = Program.model_validate({**document, "earn": {**document["earn"], "pending_days": 14}})
    uc = make_loyalty(program=program)
    staff = Caller("terminal-1", frozenset({POS_SCOPE}))
    member_id = uc.enroll(staff, email="pending@example.com", channel="store").member_id
    requests: list[str] = []
    uc.store.on_request(lambda operation, params: requests.append(operation))

    def counted(call) -> int:
        requests.clear()
        call()
        return len(requests)

    assert counted(lambda: uc.earn(staff, member_id, Purchase("t-1", 10_000, "EUR"), payload={"t": 1})) == 2
    uc.clock.advance(timedelta(days=15))  # the purchase's points are due: every call below settles them first
    assert counted(lambda: uc.member(staff, member_id)) == 1
    stored = uc.member(staff, member_id)  # as stored: nothing has written since the earn
    assert (stored.balance, ledger.points_pending(stored)) == (50, 100)
    # 120 > the 50 stored as available: the redemption settles the due 100 in the same two requests
    assert counted(lambda: uc.redeem(staff, member_id, idempotency_key="k-1", payload={"p": 1}, points=120)) == 2
    assert uc.member(staff, member_id).balance == 30
