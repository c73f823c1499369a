"""Issue 8 on the domain and service side: ownership never matches on absent values, settings fail
closed, the e-mail key comes from SSM, bad activity ranges and cursors answer 4xx, reports stay cheap."""

from __future__ import annotations

import base64
import json
import time
from datetime import date, datetime, timedelta, timezone

import boto3
import pytest

from loyalty.domain import errors
from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE, POS_SCOPE, Caller
from loyalty.domain.model import BasketItem, EntryRef, Purchase, Redemption, Voucher
from loyalty.core.email_hash import EmailHasher
from loyalty.settings import ConfigurationError
from loyalty.rewards.store import RedemptionStore
from loyalty.store.transaction import LostRace
from tests.conftest import TEST_EMAIL_HASH_KEY, call, http_event, load_function, make_loyalty
from tests.functional.helpers import MEMBER, activity, earn, enroll, redeem, table_items, view

pytestmark = pytest.mark.usefixtures("tables")

STAFF = Caller(sub="terminal", scopes=frozenset({POS_SCOPE}))


# ------------------------------------------------------------------ ownership


@pytest.mark.parametrize("sub", [None, ""])
def test_a_member_token_without_a_subject_owns_nothing_and_cannot_enroll(sub):
    at_the_till = enroll("till@example.com")["member_id"]  # enrolled by a terminal: no sub on the member
    earn(at_the_till, "t-1", 10_000)
    before = table_items()
    for reply in (
        view(at_the_till, scopes=MEMBER, sub=sub),
        activity(at_the_till, scopes=MEMBER, sub=sub),
        redeem(at_the_till, "k-1", scopes=MEMBER, sub=sub, points=10),
        enroll("nobody@example.com", scopes=MEMBER, sub=sub),
        view("me", scopes=MEMBER, sub=sub),
        call("report", http_event("GET", "/v1/program", scopes=MEMBER, sub=sub)),
    ):
        # The resolver refuses such a token before any use case runs; the domain would refuse it too (below).
        assert (reply.status, reply["code"]) == (401, "INVALID_TOKEN"), reply.body
    assert table_items() == before, "no welcome bonus, no spent points"


def test_ownership_never_matches_absent_subjects():
    from loyalty.domain.model import Member

    unowned = Member(member_id="m1", email="a@example.com", enrolled_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                     channel="store", tier="Bronze", referral_code="ABCD2345", sub=None)
    for caller in (Caller(None, frozenset({MEMBER_SCOPE})), Caller("", frozenset({MEMBER_SCOPE}))):
        assert not caller.owns(unowned)
        with pytest.raises(errors.MemberNotFound):
            caller.ensure_may_access(unowned, "m1")
    assert Caller(None, frozenset({ADMIN_SCOPE})).ensure_may_access(unowned, "m1") is unowned


# ------------------------------------------------------------------ settings fail closed, the key from SSM


@pytest.mark.parametrize(
    ("function", "missing", "named"),
    [
        ("earn", "MEMBERS_TABLE", "MEMBERS_TABLE"),
        ("redeem", "CATALOG_TABLE", "CATALOG_TABLE"),
        ("enroll", "EMAIL_HASH_KEY", "EMAIL_HASH_KEY"),
        ("expire_points", "JOB_QUEUE_URL", "JOB_QUEUE_URL"),
        ("publish_events", "EVENT_BUS_NAME", "EVENT_BUS_NAME"),
    ],
)
def test_a_function_missing_its_configuration_fails_its_cold_start_naming_it(function, missing, named):
    with pytest.raises(ConfigurationError, match=named):
        load_function(function, **{missing: ""})  # an empty variable counts as missing


def test_the_email_key_comes_from_an_ssm_securestring_read_once():
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/loyalty/test/email-hash-key", Value="a-key-kept-in-parameter-store", Type="SecureString")
    hasher = EmailHasher(parameter_name="/loyalty/test/email-hash-key", region="us-east-1")
    assert hasher("Ann@Example.com ") == EmailHasher(key="a-key-kept-in-parameter-store")("ann@example.com")
    ssm.delete_parameter(Name="/loyalty/test/email-hash-key")
    assert hasher("bob@example.com"), "read once per cold start: no second read"
    with pytest.raises(ValueError):
        EmailHasher(key=TEST_EMAIL_HASH_KEY, parameter_name="/both")


def test_the_enroll_function_reads_its_key_from_ssm_when_deployed():
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/loyalty/test/key", Value="another-long-random-key", Type="SecureString")
    body = {"email": "ssm@example.com"}
    reply = call("enroll", http_event("POST", "/v1/members", body=body), instance=7,
                 EMAIL_HASH_KEY="", EMAIL_HASH_KEY_PARAMETER="/loyalty/test/key")
    assert reply.status == 201, reply.body
    again = call("enroll", http_event("POST", "/v1/members", body=body))  # another key: another hash
    assert again.status == 201, "the key decides the uniqueness hash (rotating it needs a re-hash)"


# ------------------------------------------------------------------ activity: ranges and cursors


def test_activity_ranges_at_the_edges_of_the_calendar_answer_normally():
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 1_000)
    today = datetime.now(timezone.utc).date().isoformat()
    for query in ({"to": today}, {"to": "9999-12-31"}, {"from": "0001-01-01"}, {"from": "0001-01-01", "to": "9999-12-31"}):
        reply = activity(member_id, **query)
        assert reply.status == 200 and len(reply["items"]) == 2, (query, reply.body)
    assert activity(member_id, to="2000-01-01")["items"] == []
    assert activity(member_id, **{"from": "9999-12-31"})["items"] == []


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_a_tampered_cursor_is_invalid_whatever_its_types():
    member_id = enroll()["member_id"]
    for index in range(3):
        earn(member_id, f"t-{index}", 1_000)
    page = activity(member_id, limit="2")
    real = json.loads(base64.urlsafe_b64decode(page["next_cursor"]))
    tampered = [
        {**real, "entry_key": {"N": "1"}},
        {**real, "created_seq": {"S": 5}},
        {**real, "created_seq": {"B": "AAAA"}},
        {**real, "member_id": {"S": "someone-else"}},
        {**real, "entry_key": {"S": ""}},
        [real],
        "not-an-object",
    ]
    for value in tampered:
        reply = activity(member_id, cursor=_cursor(value))
        assert (reply.status, reply["code"]) == (400, "INVALID_CURSOR"), (value, reply.body)
    outside = activity(member_id, cursor=page["next_cursor"], to="2000-01-01")  # a cursor outside this range
    assert (outside.status, outside["code"]) == (400, "INVALID_CURSOR")
    assert activity(member_id, cursor=page["next_cursor"]).status == 200


# ------------------------------------------------------------------ reports: bounded by their days


def test_a_report_on_year_one_answers_at_once_from_the_totals():
    uc = make_loyalty(at=datetime(2026, 11, 2, tzinfo=timezone.utc))
    uc.enroll(STAFF, email="r@example.com", channel="store")
    requests: list[str] = []
    uc.store.on_request(lambda operation, params: requests.append(operation))
    started = time.monotonic()
    report = uc.program_report(date(1, 1, 1), date(1, 1, 1))
    assert time.monotonic() - started < 2 and len(requests) <= 2, requests
    assert report.outstanding_points == 0 and report.total("enrollments") == 0
    reply = call("report", http_event("GET", "/v1/reports/program", query={"from": "0001-01-01", "to": "0001-01-01"},
                                      scopes="loyalty/admin"))
    assert reply.status == 200 and reply["outstanding_points"] == 0


def test_a_report_reads_nothing_before_the_first_counted_day():
    uc = make_loyalty(at=datetime(2026, 11, 2, tzinfo=timezone.utc))
    uc.enroll(STAFF, email="first@example.com", channel="store")
    requests: list[dict] = []
    uc.store.on_request(lambda operation, params: requests.append(params))
    uc.program_report(date(2026, 1, 1), date(2026, 11, 2))  # 306 days asked, two counted
    keys = [key["pk"]["S"] for params in requests for table in params.get("RequestItems", {}).values()
            for key in table["Keys"]]
    # totals and the roll-up's marker, and the counted days' items: their day items and (305 days into the range)
    # their gap items
    assert keys and all(key.startswith(("T#", "ROLLUP", "D#2026-11-0", "G#2026-11-0")) for key in keys), sorted(set(keys))[:5]


# ------------------------------------------------------------------ what the use cases keep and say


def test_the_basket_is_kept_on_the_earn_entry():
    uc = make_loyalty(at=datetime.now(timezone.utc))
    member_id = uc.enroll(STAFF, email="basket@example.com", channel="store").member_id
    items = (BasketItem("latte", 450, 2, "drinks"), BasketItem("croissant", 300))
    uc.earn(STAFF, member_id, Purchase("t-basket", 1_200, "EUR", items=items), payload={"t": 1})
    _, entries = uc.store.get_member_and_entries(member_id, [EntryRef("earn", "t-basket")])
    assert entries[EntryRef("earn", "t-basket")].items == items
    reply = earn(member_id, "t-http", 1_000, items=[{"sku": "tea", "amount_minor": 1_000, "category": "drinks"}])
    assert reply.status == 201
    _, entries = uc.store.get_member_and_entries(member_id, [EntryRef("earn", "t-http")])
    assert entries[EntryRef("earn", "t-http")].items == (BasketItem("tea", 1_000, 1, "drinks"),)


def test_refusals_carry_their_details():
    uc = make_loyalty(at=datetime.now(timezone.utc))
    member_id = uc.enroll(STAFF, email="details@example.com", channel="store").member_id
    with pytest.raises(errors.InsufficientPoints) as refused:
        uc.redeem(STAFF, member_id, idempotency_key="k", payload={}, points=80)
    assert refused.value.details == {"balance": 50, "needed": 80}
    with pytest.raises(errors.TierTooLow) as too_low:
        uc.redeem(STAFF, member_id, idempotency_key="k2", payload={}, reward_id="beans-bag")
    assert too_low.value.details == {"min_tier": "Gold", "tier": "Bronze"}


def test_an_inactive_reward_cannot_be_redeemed():
    from loyalty.store.models import bind_rewards

    rewards = bind_rewards("CatalogTable", "us-east-1")
    rewards("REWARD", "pastry").update(actions=[rewards.active.set(False)])
    member_id = enroll()["member_id"]
    earn(member_id, "t-1", 20_000)
    reply = redeem(member_id, "k-1", reward_id="pastry")
    assert (reply.status, reply["code"]) == (404, "REWARD_NOT_FOUND")
    listed = call("redeem", http_event("GET", "/v1/rewards"))["items"]
    assert "pastry" not in [item["reward_id"] for item in listed]


def test_a_lost_race_outranks_out_of_stock_in_one_transaction_and_the_reread_tells_out_of_stock():
    """Each write of a transaction says what its failure means. When the member's version and the stock both fail,
    the race is told first: the write that took the stock may be this request's own, applied by a try whose answer
    was lost (docs/reliability.md); the use case rereads, and a stock that is really gone is then told."""
    from loyalty.domain import ledger, redeeming
    from loyalty.store.models import bind_rewards

    rewards = bind_rewards("CatalogTable", "us-east-1")
    rewards("REWARD", "beans-bag").update(actions=[rewards.stock.set(0)])
    uc = make_loyalty(at=datetime.now(timezone.utc))
    member_id = uc.enroll(STAFF, email="stock@example.com", channel="store").member_id
    member = uc.store.get_member(member_id)
    gold = member.copy()
    gold.tier, gold.balance, gold.lots = "Gold", 1_000, {"2099-01": 1_000}
    reward = next(r for r in uc.catalog.rewards() if r.reward_id == "beans-bag")
    stocked = type(reward)(**{**reward.__dict__, "stock": 1})  # as a stale catalog would still show it
    change = redeeming.redeem(gold, uc.program, uc.clock.now(), idempotency_key="k", request_hash="h", reward=stocked)
    taking_stock = RedemptionStore(uc.store).redeemed(member_id, stock_reward=stocked, counted_reward=None,
                                                      voucher=Voucher.of(change.entry), redemption=Redemption.of(change.entry, True))
    with pytest.raises(LostRace):
        uc.store.commit(change, {member_id: member.version + 5}, {member_id: ledger.job_schedule(gold, uc.program)}, {},
                        [taking_stock])
    with pytest.raises(errors.OutOfStock):
        uc.store.commit(change, {member_id: member.version}, {member_id: ledger.job_schedule(gold, uc.program)}, {},
                        [taking_stock])


def test_replaying_a_purchase_a_little_in_the_past_keeps_it_on_its_day():
    uc = make_loyalty(at=datetime.now(timezone.utc) - timedelta(hours=1))
    member_id = uc.enroll(STAFF, email="order@example.com", channel="store").member_id
    uc.clock.at = datetime.now(timezone.utc) - timedelta(hours=2)  # another instance's clock, behind
    outcome = uc.earn(STAFF, member_id, Purchase("t-behind", 1_000, "EUR"), payload={})
    assert outcome.entry.created_at == uc.clock.now(), "recorded at its own time, not the welcome bonus's later one"
    assert outcome.entry.seq == 2, "ordered by its sequence"


def test_the_enroll_use_case_refuses_a_member_caller_without_a_subject_itself():
    uc = make_loyalty()
    before = table_items()
    for sub in (None, ""):
        with pytest.raises(errors.Forbidden):
            uc.enroll(Caller(sub, frozenset({MEMBER_SCOPE})), email="x@example.com", channel="app", referral_code="NOPE2345")
    assert table_items() == before
