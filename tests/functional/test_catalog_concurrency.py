"""Races on the catalog against moto in server mode (made as atomic as DynamoDB): stock changed by the back
office while members redeem never goes below zero and ends exact; a per-member limit holds under a burst."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3

from tests.functional.helpers import admin_catalog, earn, enroll, redeem, view
from tests.functional.test_concurrency import THREADS, _ledger, moto_server  # noqa: F401 - the fixture

TEA = {"reward_id": "tea", "name": "Tea", "description": "Any tea.", "kind": "free_item", "points": 10, "value_minor": 300}


def _stock(endpoint: str) -> int:
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    return int(client.get_item(TableName="CatalogTable", Key={"pk": {"S": "REWARD"}, "sk": {"S": "tea"}})["Item"]["stock"]["N"])


def _redemption_count(endpoint: str, member_id: str) -> int:
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    item = client.get_item(TableName="MembersTable", Key={"pk": {"S": f"RC#{member_id}#tea"}}).get("Item")
    return int(item["count"]["N"]) if item else 0


def test_stock_is_exact_and_never_negative_under_redemptions_and_stock_changes(moto_server):  # noqa: F811
    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server}
    assert admin_catalog("POST", "/v1/rewards", {**TEA, "stock": 4}, env=env).status == 201
    members = [enroll(f"m{index}@example.com", env=env)["member_id"] for index in range(THREADS)]
    for member_id in members:
        earn(member_id, "t-1", 1_000, env=env)
    deltas = [-3, 2, -2, 1]

    def redeem_one(index: int):
        return redeem(members[index], "k-1", reward_id="tea", instance=index, env=env)

    def change(index: int):
        return admin_catalog("POST", "/v1/rewards/tea/stock", {"delta": deltas[index]}, instance=100 + index, env=env)

    with ThreadPoolExecutor(THREADS + len(deltas)) as pool:
        redeemed = [pool.submit(redeem_one, index) for index in range(THREADS)]
        changed = [pool.submit(change, index) for index in range(len(deltas))]
        redemptions = [future.result() for future in redeemed]
        changes = [future.result() for future in changed]

    assert all(reply.status in (200, 201) or reply["code"] in ("OUT_OF_STOCK", "TRY_AGAIN") for reply in redemptions), [
        (reply.status, reply.body) for reply in redemptions]
    assert all(reply.status == 200 or reply["code"] == "OUT_OF_STOCK" for reply in changes), [r.body for r in changes]
    applied = sum(deltas[index] for index, reply in enumerate(changes) if reply.status == 200)
    landed = [member_id for member_id in members if any(item["type"]["S"] == "redeem" for item in _ledger(moto_server, member_id))]
    assert len(landed) == sum(reply.status == 201 for reply in redemptions)
    assert _stock(moto_server) == 4 + applied - len(landed) >= 0
    assert all(reply["stock"] >= 0 for reply in changes if reply.status == 200)


def test_a_per_member_limit_is_exact_under_a_burst(moto_server):  # noqa: F811
    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server}
    assert admin_catalog("POST", "/v1/rewards", {**TEA, "per_member_limit": 2}, env=env).status == 201
    member_id = enroll(env=env)["member_id"]
    earn(member_id, "t-1", 10_000, env=env)  # 150 points: room for more than the limit
    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(lambda index: redeem(member_id, f"key-{index}", reward_id="tea", instance=index, env=env),
                                range(THREADS)))
    assert all(reply.status == 201 or reply["code"] in ("REWARD_LIMIT_REACHED", "TRY_AGAIN") for reply in replies), [
        (reply.status, reply.body) for reply in replies]
    redeemed = sum(item["type"]["S"] == "redeem" for item in _ledger(moto_server, member_id))
    assert redeemed == sum(reply.status == 201 for reply in replies) == _redemption_count(moto_server, member_id) <= 2
    assert view(member_id, env=env)["points_balance"] == 150 - 10 * redeemed
    # whatever the burst left, the limit still holds exactly afterwards
    for index in range(3):
        redeem(member_id, f"after-{index}", reward_id="tea", env=env)
    assert _redemption_count(moto_server, member_id) == 2
    assert sum(item["type"]["S"] == "redeem" for item in _ledger(moto_server, member_id)) == 2


def test_a_voucher_is_used_exactly_once_from_two_tills(moto_server):  # noqa: F811
    from tests.conftest import call, http_event

    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server}
    member_id = enroll(env=env)["member_id"]
    earn(member_id, "t-1", 10_000, env=env)
    code = redeem(member_id, "k-1", reward_id="pastry", env=env)["voucher_code"]

    def use(index: int):
        event = http_event("POST", f"/v1/vouchers/{code}/use", body={"store_id": f"till-{index}"})
        return call("redeem", event, index, **env)

    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(use, range(THREADS)))
    used = [reply for reply in replies if reply.status == 200]
    assert len(used) == 1, [(reply.status, reply.body) for reply in replies]
    assert all(reply["code"] == "VOUCHER_ALREADY_USED" and reply["details"]["store_id"] == used[0]["store_id"]
               for reply in replies if reply.status != 200)
