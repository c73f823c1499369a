"""The local runtime driven over HTTP as the mobile app and a store terminal would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid

import boto3
import jwt
import pytest
import requests
from botocore.config import Config

from loyalty_local.template import ROOT
from tests.local.conftest import start_runtime

TIMEOUT = 30


def post(runtime, path, role, body, sub=None, **headers):
    # a member token enrolling proves the e-mail it enrolls (its verified email claim)
    email = body.get("email") if role == "member" and path == "/v1/members" else None
    return requests.post(f"{runtime.api}{path}", json=body, headers=runtime.headers(role, sub, email, **headers),
                         timeout=TIMEOUT)


def get(runtime, path, role, sub=None, **params):
    return requests.get(f"{runtime.api}{path}", headers=runtime.headers(role, sub), params=params, timeout=TIMEOUT)


def test_app_and_terminal_journey(local_runtime):
    sub = f"app-user-{uuid.uuid4().hex[:8]}"
    enrolled = post(local_runtime, "/v1/members", "member", {"email": f"{sub}@example.com", "name": "Jo"}, sub)
    assert enrolled.status_code == 201, enrolled.text
    member_id = enrolled.json()["member_id"]

    purchase = {"transaction_id": f"pos-7:{sub}", "amount_minor": 15_000, "currency": "EUR", "store_id": "7"}
    earned = post(local_runtime, f"/v1/members/{member_id}/earn", "pos", purchase)
    assert earned.status_code == 201 and earned.json()["points"] == 150
    replay = post(local_runtime, f"/v1/members/{member_id}/earn", "pos", purchase)
    assert replay.status_code == 200 and replay.json() == earned.json()

    key = str(uuid.uuid4())
    redeemed = post(local_runtime, "/v1/members/me/redemptions", "member", {"reward_id": "coffee-any-size"}, sub, **{"Idempotency-Key": key})
    assert redeemed.status_code == 201, redeemed.text
    again = post(local_runtime, "/v1/members/me/redemptions", "member", {"reward_id": "coffee-any-size"}, sub, **{"Idempotency-Key": key})
    assert again.status_code == 200 and again.json() == redeemed.json()

    me = get(local_runtime, "/v1/members/me", "member", sub)
    assert me.status_code == 200 and me.json()["points_balance"] == 50 + 150 - 150
    activity = get(local_runtime, "/v1/members/me/activity", "member", sub, limit=10)
    assert [item["type"] for item in activity.json()["items"]] == ["redeem", "earn", "bonus"]
    assert get(local_runtime, "/v1/rewards", "member", sub).json()["items"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    report = get(local_runtime, "/v1/reports/program", "admin", **{"from": today, "to": today})
    assert report.status_code == 200 and report.json()["purchases"] >= 1


def test_domain_events_are_published_from_the_table_streams(local_runtime):
    member_id = post(local_runtime, "/v1/members", "pos", {"email": f"{uuid.uuid4().hex}@example.com"}).json()["member_id"]
    deadline, published = time.monotonic() + 15, []
    while time.monotonic() < deadline and not published:
        time.sleep(0.2)
        text = local_runtime.events_path.read_text() if local_runtime.events_path.exists() else ""
        lines = text.split("\n")[:-1]  # complete lines only: the publisher may be appending
        published = [event for event in map(json.loads, lines) if event["detail"].get("member_id") == member_id]
    assert [event["detail-type"] for event in published] == ["MemberEnrolled"]


def test_authorizer_refuses_missing_forged_and_expired_tokens(local_runtime):
    url = f"{local_runtime.api}/v1/program"
    missing = requests.get(url, timeout=TIMEOUT)
    assert missing.status_code == 401 and missing.json() == {"message": "Unauthorized"}
    forged = jwt.encode({"sub": "x", "scope": "loyalty/admin", "exp": int(time.time()) + 60}, "not-the-secret-but-long-enough-for-hs256", algorithm="HS256")
    refused = requests.get(url, headers={"authorization": f"Bearer {forged}"}, timeout=TIMEOUT)
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
    expired = jwt.encode({"sub": "x", "scope": "loyalty/admin", "exp": int(time.time()) - 5}, local_runtime.secret, algorithm="HS256")
    response = requests.get(url, headers={"authorization": f"Bearer {expired}"}, timeout=TIMEOUT)
    assert response.status_code == 401 and response.json() == {"message": "Unauthorized"}
    ok = requests.get(url, headers=local_runtime.headers("member"), timeout=TIMEOUT)
    assert ok.status_code == 200 and ok.headers["apigw-requestid"]
    bare = requests.get(url, headers={"authorization": local_runtime.token("pos")}, timeout=TIMEOUT)
    assert bare.status_code == 200, "API Gateway also takes the token without 'Bearer '"


def test_scopes_are_enforced_per_route(local_runtime):
    members_cannot_earn = post(local_runtime, "/v1/members/me/earn", "member", {"transaction_id": "t", "amount_minor": 1, "currency": "EUR"})
    assert members_cannot_earn.status_code == 403 and members_cannot_earn.json() == {"message": "Forbidden"}
    assert get(local_runtime, "/v1/reports/program", "pos", **{"from": "2026-01-01", "to": "2026-01-02"}).status_code == 403


def test_a_member_cannot_read_another_member(local_runtime):
    other = post(local_runtime, "/v1/members", "pos", {"email": f"{uuid.uuid4().hex}@example.com"}).json()["member_id"]
    curious = f"curious-{uuid.uuid4().hex[:8]}"
    assert post(local_runtime, "/v1/members", "member", {"email": f"{uuid.uuid4().hex}@example.com"}, curious).status_code == 201
    response = get(local_runtime, f"/v1/members/{other}", "member", curious)
    assert response.status_code == 404 and response.json()["code"] == "MEMBER_NOT_FOUND"


def test_unknown_route_and_bad_input_through_the_gateway(local_runtime):
    assert requests.get(f"{local_runtime.api}/v2/nothing", timeout=TIMEOUT).json() == {"message": "Not Found"}
    malformed = requests.post(f"{local_runtime.api}/v1/members", data="{oops", timeout=TIMEOUT,
                              headers=local_runtime.headers("pos", **{"content-type": "application/json"}))
    assert malformed.status_code == 400 and malformed.json()["code"] == "MALFORMED_JSON"


def test_openapi_and_offline_docs_are_served(local_runtime):
    document = requests.get(f"{local_runtime.api}/openapi.json", timeout=TIMEOUT).json()
    assert document == json.loads((ROOT / "openapi.json").read_text())
    page = requests.get(f"{local_runtime.api}/docs", timeout=TIMEOUT)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text and document["info"]["title"] in page.text
    assets = re.findall(r"(?:src|href)=['\"]([^'\"]+)", page.text)
    assert assets and all(asset.startswith("/") and not asset.startswith("//") for asset in assets), "nothing remote: it works offline"
    for asset in assets:
        assert requests.get(f"{local_runtime.api}{asset}", timeout=TIMEOUT).status_code == 200, asset
    assert requests.get(f"{local_runtime.api}/docs?format=json", timeout=TIMEOUT).json() == document, "the page's own spec link"


@pytest.fixture
def lambda_client(local_runtime):
    return boto3.client("lambda", endpoint_url=local_runtime.lambda_endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 1}, read_timeout=TIMEOUT))


def test_functions_run_through_the_lambda_invoke_api(lambda_client):
    response = lambda_client.invoke(FunctionName="ReportFunction", Payload=(ROOT / "events" / "get-program.json").read_bytes())
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert result["statusCode"] == 200 and json.loads(result["body"])["currency"] == "EUR"


def test_scheduled_jobs_run_through_the_lambda_invoke_api(lambda_client):
    response = lambda_client.invoke(FunctionName="ExpirePointsFunction",
                                    Payload=(ROOT / "events" / "expire-points-scheduled.json").read_bytes())
    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read())["job"] == "expire"


def test_a_failing_function_reports_like_lambda(lambda_client):
    response = lambda_client.invoke(FunctionName="EarnFunction", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    assert {"errorMessage", "errorType", "stackTrace"} <= set(json.loads(response["Payload"].read()))
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")


def test_ctrl_c_stops_the_whole_process_tree(tmp_path):
    runtime = start_runtime(tmp_path / "runtime.log")
    try:
        assert requests.get(f"{runtime.api}/v1/program", headers=runtime.headers("pos"), timeout=TIMEOUT).status_code == 200
        children = subprocess.run(["pgrep", "-P", str(runtime.process.pid)], capture_output=True, text=True, timeout=TIMEOUT)
        workers = [int(pid) for pid in children.stdout.split()]
        assert workers, "a function ran, so its worker process is up"
        assert runtime.stop(signal.SIGINT, whole_group=True) == 0, runtime.log()  # what a terminal's Ctrl-C sends
    finally:
        if runtime.process.poll() is None:
            runtime.kill()
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "Traceback" not in runtime.log() and "stopping..." in runtime.log(), runtime.log()
