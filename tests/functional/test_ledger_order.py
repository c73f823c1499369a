"""The ledger's order is the order in which entries were applied (the member's sequence), not the wall clock.

A write reads the clock before its transaction; when another write to the same member commits in between
(a retry after a lost race, or another Lambda instance whose clock runs a few ms behind), the later-applied
entry can carry the earlier time. The activity feed and the export must still list entries in applied order,
so each entry's `balance_after` is the previous one's plus its points.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import boto3

from loyalty.domain.access import POS_SCOPE, Caller
from loyalty.domain.model import Purchase
from tests.conftest import make_loyalty
from tests.conftest import call, http_event
from tests.functional.helpers import earn, enroll, redeem
from tests.functional.test_concurrency import moto_server  # noqa: F401  (the fixture)

STAFF = Caller(sub="terminal-1", scopes=frozenset({POS_SCOPE}))
AT = datetime(2026, 11, 2, 12, tzinfo=timezone.utc)


def chains(entries_oldest_first: list[dict]) -> bool:
    """Each entry's balance_after is the one before it plus its own points."""
    return all(later["balance_after"] == earlier["balance_after"] + later["points"]
               for earlier, later in zip(entries_oldest_first, entries_oldest_first[1:], strict=False))


def _feed(loyalty, member_id: str, page_size: int = 2) -> list[dict]:
    """The whole feed, page by page (newest first), as the API lists it, oldest first."""
    listed, cursor = [], None
    while True:
        entries, cursor = loyalty.activity(STAFF, member_id, page_size, cursor)
        listed += [{"seq": e.seq, "points": e.points, "balance_after": e.balance_after, "type": e.type} for e in entries]
        if not cursor:
            return listed[::-1]


def test_an_entry_applied_later_with_an_earlier_clock_lists_after_the_one_applied_before_it(tables):
    """Two instances, the second's clock 9 ms behind: the referral bonus is applied after the redemption."""
    ahead, behind = make_loyalty(AT), make_loyalty(AT - timedelta(milliseconds=9))
    referrer = ahead.enroll(STAFF, email="ref@example.com", channel="store")
    referred = ahead.enroll(STAFF, email="new@example.com", channel="store", referral_code=referrer.referral_code)
    ahead.earn(STAFF, referrer.member_id, Purchase("t-0", 10_000, "EUR"), {"t": 0})
    ahead.redeem(STAFF, referrer.member_id, idempotency_key="r-1", payload={"points": 100}, points=100)
    behind.earn(STAFF, referred.member_id, Purchase("t-1", 1_000, "EUR"), {"t": 1})  # the referrer's bonus
    feed = _feed(ahead, referrer.member_id)
    assert [entry["seq"] for entry in feed] == sorted(entry["seq"] for entry in feed), feed
    assert feed[-1]["type"] == "bonus" and chains(feed), feed
    # the export lists the same entries in the same order (newest first)
    exported = ahead.export(STAFF, referrer.member_id).entries
    assert [entry.seq for entry in exported] == [entry["seq"] for entry in reversed(feed)]


def test_entries_recorded_before_the_fix_still_list_in_order_with_new_ones(tables):
    """An entry written by the earlier code (its index key is its own clock time, no ledger clock on the
    member) lists by time among the new ones, which never sort before it."""
    loyalty = make_loyalty(AT)
    member = loyalty.enroll(STAFF, email="old@example.com", channel="store")
    client = boto3.client("dynamodb", region_name="us-east-1")
    # what the earlier code left: no `ledger_at` on the member
    client.update_item(TableName="MembersTable", Key={"pk": {"S": f"M#{member.member_id}"}},
                       UpdateExpression="REMOVE ledger_at")
    loyalty.clock.advance(timedelta(seconds=1))
    loyalty.earn(STAFF, member.member_id, Purchase("t-1", 2_000, "EUR"), {"t": 1})
    loyalty.clock.advance(timedelta(seconds=-5))  # even a clock behind the old entries lists the new one last
    loyalty.earn(STAFF, member.member_id, Purchase("t-2", 3_000, "EUR"), {"t": 2})
    feed = _feed(loyalty, member.member_id, page_size=1)
    assert [entry["seq"] for entry in feed] == sorted(entry["seq"] for entry in feed) and len(feed) == 3
    assert chains(feed), feed


def test_referral_bonuses_racing_a_redemption_chain_in_feed_order(moto_server):  # noqa: F811
    """The defect as found: eight referred members' first purchases while their referrer redeems."""
    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server}
    referrer = enroll("referrer@example.com", env=env)
    earn(referrer["member_id"], "t-0", 20_000, env=env)
    referred = [enroll(f"friend-{index}@example.com", referral_code=referrer["referral_code"], env=env)["member_id"]
                for index in range(8)]

    def act(index: int):
        if index % 2:
            return redeem(referrer["member_id"], f"r-{index}", points=10, instance=index, env=env)
        return earn(referred[index // 2], f"first-{index}", 1_000, instance=index, env=env)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(act, range(16)))
    feed, cursor = [], None
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = call("report", http_event("GET", f"/v1/members/{referrer['member_id']}/activity", query=query), **env)
        assert page.status == 200, page.body
        feed += page["items"]
        cursor = page.body.get("next_cursor")
        if not cursor:
            break
    feed.reverse()
    assert chains(feed), [(entry["type"], entry["points"], entry["balance_after"]) for entry in feed]
