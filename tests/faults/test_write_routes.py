"""Every write route under each fault, injected below the store on the route's write (issue 21, items 2 and 4 of 19).

A fault the SDK retries (throttles, a reset connection, DynamoDB's 500) or the use case retries (a transaction
conflict) is invisible to the client; a lost response (the write applied, then the connection dropped) is
answered as the first try would have been, never applied twice; faults that persist past the SDK's attempts
answer 503 with Retry-After and write nothing; a request DynamoDB refuses as it is answers 500 STORE_REJECTED,
without Retry-After, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.conftest import http_event
from tests.faults.conftest import Answer, Handlers
from tests.functional.helpers import ADMIN, POS, admin_catalog, earn, enroll, ledger_sum, redeem, table_items
from tests.functional.test_campaigns_admin import LATER, campaigns, coffee

TEA = {"reward_id": "last-tea", "name": "Tea", "description": "The last tea.", "kind": "free_item", "points": 10,
       "value_minor": 300, "stock": 1, "per_member_limit": 1}
TRANSACT = "dynamodb.TransactWriteItems"


@dataclass
class Route:
    operation: str  # the call the fault hits
    status: int  # what the first try answers
    prepare: Callable[[], tuple[str | None, Callable[[Handlers], Answer]]]  # -> (member id, the request)


def _post(h: Handlers, function: str, path: str, body: dict, scopes: str = POS, key: str | None = None) -> Answer:
    headers = {"Idempotency-Key": key} if key else None
    return h.call(function, http_event("POST", path, body=body, scopes=scopes, sub="terminal-1", headers=headers))


def _enroll():
    return None, lambda h: _post(h, "enroll", "/v1/members", {"email": "lost@example.com"})


def _earn():
    member_id = enroll("earn@example.com")["member_id"]
    return member_id, lambda h: _post(h, "earn", f"/v1/members/{member_id}/earn",
                                      {"transaction_id": "t-1", "amount_minor": 2500, "currency": "EUR"})


def _return():
    member_id = enroll("return@example.com")["member_id"]
    assert earn(member_id, "t-1", 5000).status == 201
    return member_id, lambda h: _post(h, "earn", f"/v1/members/{member_id}/returns",
                                      {"transaction_id": "t-1", "return_id": "r-1", "amount_minor": 2000})


def _redeem_the_last_one():
    assert admin_catalog("POST", "/v1/rewards", TEA).status == 201
    member_id = enroll("redeem@example.com")["member_id"]  # 50 welcome points
    return member_id, lambda h: _post(h, "redeem", f"/v1/members/{member_id}/redemptions", {"reward_id": "last-tea"},
                                      key="k-1")


def _adjust():
    member_id = enroll("adjust@example.com")["member_id"]
    return member_id, lambda h: _post(h, "earn", f"/v1/members/{member_id}/adjustments",
                                      {"points": 25, "reason": "goodwill"}, scopes=ADMIN, key="a-1")


def _cancel():
    assert admin_catalog("POST", "/v1/rewards", TEA).status == 201
    member_id = enroll("cancel@example.com")["member_id"]
    redemption = redeem(member_id, "k-1", reward_id="last-tea")
    assert redemption.status == 201, redemption.body
    path = f"/v1/members/{member_id}/redemptions/{redemption['redemption_id']}/cancel"
    return member_id, lambda h: _post(h, "redeem", path, {})


def _erase():
    member_id = enroll("erase@example.com")["member_id"]
    return member_id, lambda h: h.call("enroll", http_event("DELETE", f"/v1/members/{member_id}", scopes=ADMIN,
                                                            sub="admin-1"))


def _activate():
    assert campaigns("POST", "/v1/campaigns", coffee(ends_at=LATER)).status == 201
    return None, lambda h: h.call("campaigns", http_event("POST", "/v1/campaigns/coffee-double/activate", scopes=ADMIN,
                                                          sub="back-office-1"))


ROUTES = {
    "enroll": Route(TRANSACT, 201, _enroll), "earn": Route(TRANSACT, 201, _earn), "return": Route(TRANSACT, 201, _return),
    "redeem": Route(TRANSACT, 201, _redeem_the_last_one), "adjust": Route(TRANSACT, 201, _adjust),
    "cancel": Route(TRANSACT, 200, _cancel), "erase": Route(TRANSACT, 200, _erase),
    "activate": Route("dynamodb.UpdateItem", 200, _activate),
}
# Faults the SDK or the use case absorbs. A conflict on a single-item write (activation) is TransactionConflictException,
# which no layer retries: it is a 503 like a persistent throttle (tested below).
ABSORBED = ["lost", "throttle", "throttling", "limit", "reset", "internal", "conflict"]


@pytest.mark.parametrize("kind", ABSORBED)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_fault_on_the_write_is_absorbed_and_applied_once(inject, route, kind):
    if kind == "conflict" and route == "activate":
        pytest.skip("a conflict on a single-item write is a 503: test_faults_that_persist_answer_503_with_retry_after")
    member_id, send = ROUTES[route].prepare()
    injector = inject().script(ROUTES[route].operation, kind)
    h = Handlers()
    first = send(h)
    assert injector.summary() == {ROUTES[route].operation: {kind: 1}}, "the fault was injected once"
    assert first.status == ROUTES[route].status, first.body
    before = table_items()
    again = send(h)  # the client's own retry of a request whose answer it lost: the same answer, nothing written
    assert table_items() == before
    if route == "enroll":
        assert (again.status, again["code"]) == (409, "ALREADY_ENROLLED")
        assert again["details"]["member_id"] == first["member_id"]
        markers = [item for item in before["MembersTable"] if item["pk"]["S"].startswith("EMAIL#")]
        assert len(markers) == 1
        return
    assert again.body == first.body
    assert again.status == (200 if ROUTES[route].status == 201 else ROUTES[route].status)
    if member_id and route != "erase":
        balance = next(item for item in before["MembersTable"] if item["pk"]["S"] == f"M#{member_id}")["balance"]
        assert int(balance["N"]) == ledger_sum(member_id)


PERSISTENT = [(route, ("throttle", "throttling", "reset")) for route in sorted(ROUTES)]  # the SDK's three attempts
PERSISTENT += [("activate", ("conflict",))]  # a conflict on a single-item write: not retried by the SDK


@pytest.mark.parametrize(("route", "kinds"), PERSISTENT)
def test_faults_that_persist_answer_503_with_retry_after_and_write_nothing(inject, route, kinds):
    member_id, send = ROUTES[route].prepare()
    before = table_items()
    injector = inject().script(ROUTES[route].operation, *kinds)
    h = Handlers()
    refused = send(h)
    assert sum(injector.injected.values()) == len(kinds)
    assert (refused.status, refused["code"], refused.headers.get("retry-after")) == (503, "TRY_AGAIN", "1"), refused.body
    assert table_items() == before
    assert send(h).status == ROUTES[route].status, "the retry the 503 asked for goes through"


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_request_dynamodb_refuses_as_it_is_answers_500_store_rejected_and_writes_nothing(inject, route):
    member_id, send = ROUTES[route].prepare()
    before = table_items()
    injector = inject().script(ROUTES[route].operation, "too_large")
    refused = send(Handlers())
    assert injector.summary() == {ROUTES[route].operation: {"too_large": 1}}, "not retried by the SDK"
    assert (refused.status, refused["code"]) == (500, "STORE_REJECTED"), refused.body
    assert "retry-after" not in refused.headers and "retry" not in refused["message"]
    assert table_items() == before


def test_without_sdk_retries_a_lost_response_reaches_the_client_whose_retry_is_answered_as_the_first_try(inject):
    """DYNAMODB_MAX_ATTEMPTS=1: the dropped connection is the client's 503; its retry finds the write and answers it."""
    member_id, send = _earn()
    inject().script(TRANSACT, "lost")
    h = Handlers(DYNAMODB_MAX_ATTEMPTS="1")
    lost = send(h)
    assert (lost.status, lost["code"], lost.headers["retry-after"]) == (503, "TRY_AGAIN", "1")
    before = table_items()
    retried = send(h)
    assert retried.status == 200 and retried["points"] > 0  # the replay of the applied earn
    assert table_items() == before
    assert send(h).body == retried.body
    balance = next(item for item in before["MembersTable"] if item["pk"]["S"] == f"M#{member_id}")["balance"]
    assert int(balance["N"]) == ledger_sum(member_id) == 50 + retried["points"]


@pytest.mark.parametrize("route", ["adjust", "cancel", "redeem", "return"])  # those that read with TransactGetItems
def test_a_conflict_on_the_consistent_read_is_a_lost_race_and_retried(inject, route):
    """TransactGetItems cancelled by a write in flight (TransactionConflict) is read again, not answered 503."""
    member_id, send = ROUTES[route].prepare()
    injector = inject().script("dynamodb.TransactGetItems", "conflict")
    answer = send(Handlers())
    assert injector.summary() == {"dynamodb.TransactGetItems": {"conflict": 1}}
    assert answer.status == ROUTES[route].status, answer.body
