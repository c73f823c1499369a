"""template.yaml keeps its promises: scopes per route, least-privilege IAM, protected tables, events in step."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from loyalty_local.template import ROOT, functions, load_template, resources_of_type
from tests.conftest import LambdaContext, call, load_function

TEMPLATE = load_template()
MEMBER, POS, ADMIN = "loyalty/member", "loyalty/pos", "loyalty/admin"

# API.md's route table: (method, path) -> (function, scopes)
CONTRACT = {
    ("GET", "/v1/program"): ("ReportFunction", {MEMBER, POS, ADMIN}),
    ("POST", "/v1/members"): ("EnrollFunction", {MEMBER, POS, ADMIN}),
    ("GET", "/v1/members/{member_id}"): ("ReportFunction", {MEMBER, POS, ADMIN}),
    ("GET", "/v1/members/{member_id}/activity"): ("ReportFunction", {MEMBER, POS, ADMIN}),
    ("POST", "/v1/members/{member_id}/earn"): ("EarnFunction", {POS, ADMIN}),
    ("POST", "/v1/members/{member_id}/returns"): ("EarnFunction", {POS, ADMIN}),
    ("GET", "/v1/rewards"): ("RedeemFunction", {MEMBER, POS, ADMIN}),
    ("POST", "/v1/members/{member_id}/redemptions"): ("RedeemFunction", {MEMBER, POS, ADMIN}),
    ("GET", "/v1/reports/program"): ("ReportFunction", {ADMIN}),
}


def test_every_route_of_the_contract_is_served_by_its_function_with_its_scopes():
    served = {
        (route.method, route.path): (spec.logical_id, set(route.scopes))
        for spec in functions().values()
        for route in spec.routes
    }
    assert served == CONTRACT


def test_functions_run_python313_on_arm64_with_the_shared_layer():
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13" and function_globals["Architectures"] == ["arm64"]
    assert function_globals["Layers"] == [{"Ref": "LoyaltyLayer"}]
    layer = TEMPLATE["Resources"]["LoyaltyLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    for resource in resources_of_type(TEMPLATE, "AWS::Serverless::Function").values():
        assert "Runtime" not in resource["Properties"] or resource["Properties"]["Runtime"] == "python3.13"


def test_the_http_api_requires_a_jwt_on_every_route():
    auth = TEMPLATE["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "LoyaltyJwt"
    for spec in functions().values():
        for route in spec.routes:
            assert route.scopes, f"{route.method} {route.path} has no scopes"


def test_cognito_defines_the_three_scopes_and_both_clients():
    scopes = {s["ScopeName"] for s in TEMPLATE["Resources"]["LoyaltyResourceServer"]["Properties"]["Scopes"]}
    assert scopes == {"member", "pos", "admin"}
    terminal = TEMPLATE["Resources"]["StoreTerminalClient"]["Properties"]
    assert terminal["AllowedOAuthFlows"] == ["client_credentials"] and terminal["AllowedOAuthScopes"] == ["loyalty/pos"]
    assert TEMPLATE["Resources"]["MobileAppClient"]["Properties"]["AllowedOAuthScopes"][-1] == "loyalty/member"
    assert {"JwtIssuer", "JwtAudience"} <= set(TEMPLATE["Parameters"])


def test_data_tables_are_on_demand_protected_and_recoverable():
    for name, table in resources_of_type(TEMPLATE, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert props["DeletionProtectionEnabled"] is True, name
        assert table["DeletionPolicy"] == "Retain", name


def _policy_text(function: dict) -> str:
    return json.dumps(function["Properties"].get("Policies", []))


def _source_text(function_name: str) -> str:
    code_dir = ROOT / TEMPLATE["Resources"][function_name]["Properties"]["CodeUri"]
    return "\n".join(path.read_text() for path in code_dir.rglob("*.py"))


def test_policies_are_least_privilege():
    for name, function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items():
        text = _policy_text(function)
        assert "CrudPolicy" not in text and '"dynamodb:*"' not in text and '"Resource": "*"' not in text, name
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        granted_tables = set(re.findall(r"(\w+Table)", text))
        env_tables = {value["Ref"] for value in env.values() if isinstance(value, dict) and "Ref" in value and value["Ref"].endswith("Table")}
        assert granted_tables <= env_tables, f"{name} is granted tables it is not configured with"


def test_api_functions_do_not_scan():
    for name in ("EnrollFunction", "EarnFunction", "RedeemFunction", "ReportFunction"):
        assert "dynamodb:Scan" not in _policy_text(TEMPLATE["Resources"][name]), name
    repository = (ROOT / "layers/loyalty/loyalty/store/repository.py").read_text()
    assert ".scan(" not in repository


# ------------------------------------------------------------------ events/


EVENT_FILES = sorted(Path(ROOT / "events").glob("*.json"))
HTTP_EVENTS = [path for path in EVENT_FILES if json.loads(path.read_text()).get("version") == "2.0"]
SCHEDULED_EVENTS = [path for path in EVENT_FILES if json.loads(path.read_text()).get("detail-type") == "Scheduled Event"]
ORDER = [
    "enroll-member", "earn-purchase", "return-purchase", "redeem-reward", "redeem-points", "list-rewards", "get-program",
    "get-member", "get-activity", "get-program-report",
]


def _function_for(route_key: str) -> str:
    method, path = route_key.split(" ", 1)
    return CONTRACT[(method, path)][0]


def test_there_is_a_sample_event_for_every_route():
    covered = {json.loads(path.read_text())["routeKey"] for path in HTTP_EVENTS}
    assert covered == {f"{method} {path}" for method, path in CONTRACT}


@pytest.mark.usefixtures("tables")
def test_sample_events_run_in_order_through_their_functions():
    assert sorted(ORDER) == sorted(path.stem for path in HTTP_EVENTS)
    assert len(HTTP_EVENTS) + len(SCHEDULED_EVENTS) == len(EVENT_FILES), "every sample event is run by a test"
    for name in ORDER:
        event = json.loads((ROOT / "events" / f"{name}.json").read_text())
        function = _function_for(event["routeKey"]).removesuffix("Function").lower()
        reply = call(function, event)
        assert reply.status in (200, 201), (name, reply.body)


def test_dashboard_is_valid_json_and_every_alarm_notifies():
    from loyalty_local.template import resolve

    body = json.loads(resolve(TEMPLATE["Resources"]["Dashboard"]["Properties"]["DashboardBody"], TEMPLATE))
    titles = {widget["properties"]["title"] for widget in body["widgets"]}
    assert {"Program activity (per 5 min)", "Redemption failures by code", "Function errors"} <= titles
    alarms = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
    assert {"Api5xxRateAlarm", "DynamoDBThrottleAlarm"} <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


@pytest.mark.usefixtures("tables")
def test_scheduled_sample_events_run_their_jobs():
    for name, function in (("expire-points-scheduled", "expire_points"), ("tier-review-scheduled", "tier_review")):
        event = json.loads((ROOT / "events" / f"{name}.json").read_text())
        result = load_function(function).lambda_handler(event, LambdaContext())
        assert result["now"].startswith(event["time"][:19])


def test_every_job_has_its_schedule_and_the_worker_reports_partial_failures():
    specs = functions()
    assert [s["Schedule"] for s in specs["ExpirePointsFunction"].schedules] == ["cron(15 0 * * ? *)"]
    assert [s["Schedule"] for s in specs["TierReviewFunction"].schedules] == ["cron(30 1 1 * ? *)"]
    worker = TEMPLATE["Resources"]["JobWorkerFunction"]["Properties"]["Events"]["Jobs"]["Properties"]
    assert worker["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = TEMPLATE["Resources"]["JobQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobDeadLetterQueue", "Arn"]}
    assert set(specs["PublishEventsFunction"].streams) == {"MembersTable", "LedgerTable"}
