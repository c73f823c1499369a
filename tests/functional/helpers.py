"""Helpers for driving the handlers with API Gateway events against moto."""

from __future__ import annotations

import boto3

from tests.conftest import call, http_event

MEMBER = "loyalty/member"
POS = "loyalty/pos"
ADMIN = "loyalty/admin"


SAME = "same"  # a member token that proves the e-mail it enrolls


def enroll(email: str = "ann@example.com", scopes: str = POS, sub: str | None = "terminal-1", env: dict | None = None,
           proves: str | None = SAME, **fields):
    """Enroll; a member token proves `email` (its verified `email` claim) unless `proves` names another or None."""
    verified = (email if proves == SAME else proves) if scopes == MEMBER else None
    event = http_event("POST", "/v1/members", body={"email": email, **fields}, scopes=scopes, sub=sub, verified_email=verified)
    return call("enroll", event, **(env or {}))


def earn(
    member_id: str, transaction_id: str, amount_minor: int, scopes: str = POS, sub: str = "terminal-1",
    instance: int = 0, env: dict | None = None, **fields,
):
    body = {"transaction_id": transaction_id, "amount_minor": amount_minor, "currency": "EUR", **fields}
    event = http_event("POST", f"/v1/members/{member_id}/earn", body=body, scopes=scopes, sub=sub)
    return call("earn", event, instance, **(env or {}))


def return_points(member_id: str, transaction_id: str, return_id: str, amount_minor: int):
    body = {"transaction_id": transaction_id, "return_id": return_id, "amount_minor": amount_minor}
    return call("earn", http_event("POST", f"/v1/members/{member_id}/returns", body=body))


def redeem(
    member_id: str, key: str, scopes: str = POS, sub: str | None = "terminal-1", instance: int = 0, env: dict | None = None,
    **body,
):
    event = http_event(
        "POST", f"/v1/members/{member_id}/redemptions", body=body, scopes=scopes, sub=sub, headers={"Idempotency-Key": key}
    )
    return call("redeem", event, instance, **(env or {}))


def view(member_id: str, scopes: str = POS, sub: str | None = "terminal-1", env: dict | None = None):
    return call("report", http_event("GET", f"/v1/members/{member_id}", scopes=scopes, sub=sub), **(env or {}))


def activity(member_id: str, scopes: str = POS, sub: str | None = "terminal-1", **query):
    return call("report", http_event("GET", f"/v1/members/{member_id}/activity", scopes=scopes, sub=sub, query=query or None))


def table_items() -> dict[str, list[dict]]:
    """Every item of every table: to prove a rejected request wrote nothing."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    return {
        name: sorted((item for page in client.get_paginator("scan").paginate(TableName=name) for item in page["Items"]), key=repr)
        for name in client.list_tables()["TableNames"]
    }


def ledger_sum(member_id: str) -> int:
    client = boto3.client("dynamodb", region_name="us-east-1")
    pages = client.get_paginator("query").paginate(
        TableName="LedgerTable", KeyConditionExpression="member_id = :m", ExpressionAttributeValues={":m": {"S": member_id}}
    )
    # the member's consent records share the partition; they carry no points
    return sum(int(item["points"]["N"]) for page in pages for item in page["Items"] if "points" in item)


def admin_catalog(method: str, path: str, body=None, scopes: str = ADMIN, sub: str | None = "back-office-1", instance: int = 0,
                  env: dict | None = None):
    """A call to the back office's catalog function (CatalogFunction)."""
    return call("catalog", http_event(method, path, body=body, scopes=scopes, sub=sub), instance, **(env or {}))


def list_rewards(scopes: str = POS, sub: str | None = "terminal-1", env: dict | None = None, **query):
    return call("redeem", http_event("GET", "/v1/rewards", scopes=scopes, sub=sub, query=query or None), **(env or {}))
