"""template.yaml keeps its promises: the routes and scopes of docs/api.md, least-privilege IAM per function,
the e-mail hash key kept in SSM, protected tables, checkov findings explained, sample events that run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cfnlint.decode import decode

from tests.conftest import LambdaContext, call, load_function

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE, _problems = decode(str(ROOT / "template.yaml"))
assert not _problems, _problems
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
TABLES = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::DynamoDB::Table"}
MEMBER, POS, ADMIN = "loyalty/member", "loyalty/pos", "loyalty/admin"
# Pages linked before they exist (written on the branch of their own issue): none now.
LANDING_WITH_THEIR_ISSUE: set[Path] = set()


# ------------------------------------------------------------------ the contract, read from docs/api.md


def _route_table() -> list[dict]:
    """Rows of docs/api.md's route table: | `METHOD /path` | served by | scopes | status |."""
    rows = []
    for line in (ROOT / "docs" / "api.md").read_text().splitlines():
        match = re.fullmatch(r"\| `(GET|POST|PUT|PATCH|DELETE) (/v1/[^`?]*)` \| (.+?) \| (.+?) \| (implemented|planned) \|", line)
        if match:
            method, path, served_by, scopes, status = match.groups()
            function = re.fullmatch(r"`(\w+Function)`", served_by)
            rows.append({
                "route": (method, path),
                "function": function.group(1) if function else None,
                "scopes": {f"loyalty/{scope}" for scope in re.findall(r"\b(member|pos|admin)\b", scopes)},
                "status": status,
            })
    return rows


ROUTES = _route_table()
CONTRACT = {row["route"]: (row["function"], row["scopes"]) for row in ROUTES if row["status"] == "implemented"}


def _served() -> dict[tuple[str, str], tuple[str, set[str]]]:
    served = {}
    for name, function in FUNCTIONS.items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                served[(props["Method"].upper(), props["Path"])] = (name, set(props["Auth"]["AuthorizationScopes"]))
    return served


def test_the_route_table_of_docs_api_md_is_read():
    assert len(CONTRACT) >= 9 and {row["status"] for row in ROUTES} <= {"implemented", "planned"}
    assert all(row["function"] and row["scopes"] for row in ROUTES if row["status"] == "implemented")


def test_every_implemented_route_is_served_by_its_function_with_its_scopes_and_nothing_else_is():
    assert _served() == CONTRACT


def test_openapi_json_documents_exactly_the_implemented_routes():
    openapi = json.loads((ROOT / "openapi.json").read_text())
    documented = {(method.upper(), path) for path, operations in openapi["paths"].items() for method in operations}
    assert documented == set(CONTRACT)


def test_the_readme_links_the_api_reference_in_the_repo_and_nothing_outside_it():
    readme = (ROOT / "README.md").read_text()
    assert "](docs/api.md)" in readme
    assert "../shared" not in readme and "API.md`" not in readme
    assert not re.search(r"\]\((?!#)(?:[a-z]+:|/|\.\./)", readme), "README links only files of the repo and its own sections"
    for link in re.findall(r"\]\(([^)#]+)", readme):
        assert (ROOT / link).exists() or ROOT / link in LANDING_WITH_THEIR_ISSUE, link


def test_the_licence_and_the_security_policy_are_in_the_repo_and_the_readme_names_them():
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    readme = (ROOT / "README.md").read_text()
    assert "## Licence\nApache License 2.0: see [LICENSE](LICENSE)." in readme and "[SECURITY.md](SECURITY.md)" in readme
    policy = (ROOT / "SECURITY.md").read_text()
    assert all(f"## {section}\n" in policy for section in ("Reporting a vulnerability", "In scope", "Out of scope"))


# ------------------------------------------------------------------ runtime, API, identity, tables


def test_functions_run_python313_on_arm64_with_the_layer_built_from_its_lock():
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13" and function_globals["Architectures"] == ["arm64"]
    assert function_globals["Layers"] == [{"Ref": "LoyaltyLayer"}]
    layer = RESOURCES["LoyaltyLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    # sam build runs build-<LogicalId> of the Makefile in ContentUri (tests/test_packaging.py runs it).
    makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert re.search(r"^build-LoyaltyLayer:", makefile, re.M)
    for function in FUNCTIONS.values():
        assert function["Properties"].get("Runtime", "python3.13") == "python3.13"


def test_the_http_api_requires_a_jwt_on_every_route_and_logs_every_request():
    props = RESOURCES["HttpApi"]["Properties"]
    assert props["Auth"]["DefaultAuthorizer"] == "LoyaltyJwt"
    assert all(scopes for _, scopes in _served().values())
    assert props["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    log_line = json.loads(props["AccessLogSettings"]["Format"])
    assert {"requestId", "status", "authorizerError"} <= set(log_line)
    assert RESOURCES["ApiAccessLogs"]["Properties"]["RetentionInDays"] >= 365


def test_cognito_defines_the_three_scopes_and_the_clients():
    scopes = {s["ScopeName"] for s in RESOURCES["LoyaltyResourceServer"]["Properties"]["Scopes"]}
    assert scopes == {"member", "pos", "admin"}
    terminal = RESOURCES["StoreTerminalClient"]["Properties"]
    assert terminal["AllowedOAuthFlows"] == ["client_credentials"] and terminal["AllowedOAuthScopes"] == [POS]
    assert RESOURCES["BackOfficeClient"]["Properties"]["AllowedOAuthScopes"] == [ADMIN]
    assert RESOURCES["MobileAppClient"]["Properties"]["AllowedOAuthScopes"][-1] == MEMBER
    assert {"JwtIssuer", "JwtAudience"} <= set(TEMPLATE["Parameters"])


def test_data_tables_are_on_demand_protected_and_recoverable():
    for name in TABLES:
        table = RESOURCES[name]
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": {"Ref": "BackupRetentionDays"}}, name
        assert props["DeletionProtectionEnabled"] is True, name
        assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain", name


# ------------------------------------------------------------------ least privilege, per function and action

READ = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}

# What each function may do to each table (an index counts as its table), and why. A grant that is added,
# widened or dropped in template.yaml is a deliberate change of this table.
GRANTS = {
    # enroll transaction: member + uniqueness markers (conditional puts), welcome entry, consent, day counters;
    # an e-mail change and an erasure delete uniqueness markers (DeleteItem only on EMAIL#/SUB#/REF# keys)
    "EnrollFunction": {
        "MembersTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"},
        "LedgerTable": {"dynamodb:PutItem"},
        "StatsTable": {"dynamodb:UpdateItem"},
    },
    # earn: the member, its entry and the campaigns' limit counters in one BatchGetItem, written in one transaction;
    # returns: the member and the purchase in one transactional read; the active campaigns: one cached Query
    "EarnFunction": {
        "MembersTable": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"},
        "LedgerTable": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "StatsTable": {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"},
        "CatalogTable": {"dynamodb:Query"},
    },
    # catalog read with one Query; redemption spends points and stock in one transaction, and counts the
    # member's redemptions of the reward (an ADD on a counter item, conditional under a per-member limit)
    "RedeemFunction": {
        "MembersTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"},
        "LedgerTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "CatalogTable": {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"},
        "StatsTable": {"dynamodb:UpdateItem"},
    },
    # reads only: member view and lookup by e-mail marker, activity through the by_time index, report counters, the program's
    # active campaigns (one Query, cached); the export: the ledger partition (table Query) and the vouchers (BatchGetItem)
    "ReportFunction": {
        "MembersTable": {"dynamodb:GetItem", "dynamodb:BatchGetItem"},
        "LedgerTable": {"dynamodb:Query"},
        "StatsTable": {"dynamodb:BatchGetItem"},
        "CatalogTable": {"dynamodb:Query"},
    },
    # dispatchers only find due members through their index; the worker writes
    "ExpirePointsFunction": {"MembersTable": {"dynamodb:Query"}},
    "TierReviewFunction": {"MembersTable": {"dynamodb:Query"}},
    "JobWorkerFunction": {
        "MembersTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "LedgerTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "StatsTable": {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"},  # BatchGetItem: the roll-up's days
    },
    # reads the streams through its event source mappings; adds the campaigns' statistics of new earns (a marker
    # put and counter updates in one transaction)
    "PublishEventsFunction": {"StatsTable": {"dynamodb:PutItem", "dynamodb:UpdateItem"}},
    "PreTokenFunction": {},  # Cognito's pre-token trigger: reads its event, calls nothing
    # the back office's catalog: create (conditional put), replace, retire and stock (conditional updates);
    # a refused stock change reads the reward to say why. Nothing else: no member, ledger or counter.
    "CatalogFunction": {"CatalogTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}},
    # campaigns: create (conditional put), replace, activate, end (conditional updates), read and list them;
    # their counters (written by earn) are only read, one BatchGetItem per answer
    "CampaignsFunction": {
        "CatalogTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"},
        "StatsTable": {"dynamodb:BatchGetItem"},
    },
}


def _statements(function: dict) -> list[dict]:
    statements = []
    for policy in function["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, "inline statements only, no SAM policy templates"
        for statement in policy["Statement"]:
            if "Fn::If" in statement:  # a statement that exists under a condition (a customer managed KMS key)
                statement = statement["Fn::If"][1]
            statements.append(statement)
    return statements


def _resource_names(resource) -> set[str]:
    """Logical ids a statement's Resource points at: GetAtt X.Arn, Sub ${X.Arn}/index/..., Ref X."""
    text = json.dumps(resource)
    return (
        set(re.findall(r'"Fn::GetAtt": \["(\w+)"', text))
        | set(re.findall(r"\$\{(\w+)\.(?:Arn|StreamArn)\}", text))
        | set(re.findall(r'"Ref": "(\w+)"', text))
    )


def _table_actions(function: dict) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for statement in _statements(function):
        for table in _resource_names(statement["Resource"]) & TABLES:
            granted.setdefault(table, set()).update(statement["Action"])
    return granted


def test_every_function_is_granted_exactly_the_table_actions_it_needs():
    assert set(GRANTS) == set(FUNCTIONS)
    for name, function in FUNCTIONS.items():
        assert _table_actions(function) == GRANTS[name], name


MARKER_DELETE_CONDITION = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["EMAIL#*", "SUB#*", "REF#*"]}}


def test_reads_stay_reads_and_nothing_deletes_or_scans():
    for name in ("ReportFunction", "ExpirePointsFunction", "TierReviewFunction"):
        for table, actions in _table_actions(FUNCTIONS[name]).items():
            assert actions <= READ, f"{name} may write {table}: {actions - READ}"
    for name, function in FUNCTIONS.items():
        for statement in _statements(function):
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                assert "*" not in action.split(":", 1)[1] or action == "kms:GenerateDataKey*", (name, action)
                if action == "dynamodb:DeleteItem":  # erasure deletes uniqueness markers, never a member or an entry
                    assert (name, statement["Action"], statement.get("Condition")) == (
                        "EnrollFunction", ["dynamodb:DeleteItem"], MARKER_DELETE_CONDITION)
                    continue
                assert not re.search(r"dynamodb:(Delete|Scan|BatchWrite|PartiQL|CreateTable|UpdateTable)", action), (name, action)
            assert statement["Resource"] != "*", name
    # index-only readers get the index, not the table
    for name, table, indexes in (
        ("ExpirePointsFunction", "MembersTable", ["by_due", "by_birthday"]), ("TierReviewFunction", "MembersTable", ["by_review"]),
    ):
        resources = [resource for s in _statements(FUNCTIONS[name]) if table in _resource_names(s["Resource"])
                     for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
        assert resources == [{"Fn::Sub": f"${{{table}.Arn}}/index/{index}"} for index in indexes], name


def test_the_backup_retention_is_a_parameter_within_what_point_in_time_recovery_allows():
    """Backups hold erased members' old images for the recovery period, which every table takes from this parameter."""
    parameter = TEMPLATE["Parameters"]["BackupRetentionDays"]
    assert (parameter["Type"], parameter["MinValue"], parameter["MaxValue"], parameter["Default"]) == ("Number", 1, 35, 35)


def _environment(function: dict) -> dict:
    return {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        **function["Properties"].get("Environment", {}).get("Variables", {}),
    }


def test_a_function_is_granted_only_the_tables_it_is_configured_with():
    for name, function in FUNCTIONS.items():
        configured = {value["Ref"] for value in _environment(function).values() if isinstance(value, dict) and "Ref" in value}
        assert set(_table_actions(function)) <= configured, name


def test_queues_and_the_bus_are_configured_where_they_are_used_and_sent_to_only_there():
    senders = {
        name: {table for statement in _statements(f) if "sqs:SendMessage" in statement["Action"] for table in _resource_names(statement["Resource"])}
        for name, f in FUNCTIONS.items()
    }
    for name in ("ExpirePointsFunction", "TierReviewFunction"):
        assert _environment(FUNCTIONS[name])["JOB_QUEUE_URL"] == {"Ref": "JobQueue"}
        assert senders[name] == {"JobQueue"}
    publish = FUNCTIONS["PublishEventsFunction"]
    assert _environment(publish)["EVENT_BUS_NAME"] == {"Ref": "LoyaltyEventBus"}
    assert [s["Action"] for s in _statements(publish) if "LoyaltyEventBus" in str(s["Resource"])] == [["events:PutEvents"]]
    for name in set(FUNCTIONS) - {"ExpirePointsFunction", "TierReviewFunction", "PublishEventsFunction"}:
        assert not senders[name] and "JOB_QUEUE_URL" not in _environment(FUNCTIONS[name]), name
        assert "EVENT_BUS_NAME" not in _environment(FUNCTIONS[name]), name


# ------------------------------------------------------------------ the e-mail hash key


def test_the_email_hash_key_lives_in_ssm_and_a_deployment_must_name_it():
    parameters = TEMPLATE["Parameters"]
    assert "EmailHashKey" not in parameters
    key = parameters["EmailHashKeyParameter"]
    assert "Default" not in key, "no usable default: a deployment that does not name the key must fail"
    pattern = re.compile(key["AllowedPattern"])
    assert pattern.fullmatch("/loyalty/prod/email-hash-key")
    assert not pattern.fullmatch("") and not pattern.fullmatch("change-me-before-production-please")
    for name, function in FUNCTIONS.items():
        assert "EMAIL_HASH_KEY" not in _environment(function), f"{name} gets the key itself in its environment"


def test_only_the_functions_that_hash_emails_may_read_the_key_and_only_that_parameter():
    readers = {name for name, f in FUNCTIONS.items() if "EMAIL_HASH_KEY_PARAMETER" in _environment(f)}
    assert readers == {"EnrollFunction", "ReportFunction"}  # enrollment, and the lookup by e-mail
    for name, function in FUNCTIONS.items():
        ssm = [s for s in _statements(function) if any(a.startswith(("ssm:", "kms:")) for a in s["Action"])]
        if name not in readers:
            assert not ssm, name
            continue
        assert _environment(function)["EMAIL_HASH_KEY_PARAMETER"] == {"Ref": "EmailHashKeyParameter"}
        get, decrypt = ssm
        assert get["Action"] == ["ssm:GetParameter"]
        assert get["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${EmailHashKeyParameter}"}
        # aws/ssm lets the account's roles decrypt through Parameter Store; a customer key needs this, via SSM only
        assert decrypt["Action"] == ["kms:Decrypt"] and decrypt["Resource"] == {"Ref": "EmailHashKeyKmsKeyArn"}
        assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}
        policy = function["Properties"]["Policies"][0]["Statement"]
        conditional = [s for s in policy if "Fn::If" in s]
        assert conditional and conditional[0]["Fn::If"][0] == "EmailHashKeyHasCustomerKey"
        assert conditional[0]["Fn::If"][2] == {"Ref": "AWS::NoValue"}


# ------------------------------------------------------------------ checkov: findings fixed or explained


def test_every_checkov_skip_names_a_check_and_says_why_in_one_line():
    skips = 0
    for name, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
            assert 20 <= len(skip["comment"]) <= 200 and "\n" not in skip["comment"], (name, skip)
            skips += 1
    assert skips


def test_queues_and_the_alarm_topic_are_encrypted():
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::SQS::Queue":
            assert resource["Properties"]["SqsManagedSseEnabled"] is True, name
    assert RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = RESOURCES["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_api_code_never_scans():
    package = ROOT / "layers" / "loyalty" / "loyalty"
    scanning = [path for path in package.rglob("*.py") if re.search(r"\.scan\(|\bScan\b", path.read_text())]
    assert not scanning


# ------------------------------------------------------------------ events/


EVENT_FILES = sorted(Path(ROOT / "events").glob("*.json"))
HTTP_EVENTS = [path for path in EVENT_FILES if json.loads(path.read_text()).get("version") == "2.0"]
SCHEDULED_EVENTS = [path for path in EVENT_FILES if json.loads(path.read_text()).get("detail-type") == "Scheduled Event"]
QUEUE_EVENTS = [path for path in EVENT_FILES if json.loads(path.read_text()).get("Records", [{}])[0].get("eventSource") == "aws:sqs"]
STREAM_EVENTS = [path for path in EVENT_FILES
                 if json.loads(path.read_text()).get("Records", [{}])[0].get("eventSource") == "aws:dynamodb"]
# Cognito trigger samples, run by their function's unit test (tests/unit/test_pre_token.py)
TRIGGER_EVENTS = [path for path in EVENT_FILES if "TokenGeneration" in json.loads(path.read_text()).get("triggerSource", "")]
SAMPLE_VOUCHER = "K7QF4M2XPA"  # the vouchers' samples name one; the run uses the code redeem-reward was given
SAMPLE_MEMBER = "m8c15b73fd66c717dfde9"  # the samples' member; the run uses the id enroll-member was given
SAMPLE_REDEMPTION = "e_5a1f0c2d9b7e43a8c6d1"  # cancel-redemption's; the run cancels the first redemption it made


def _function_for(route_key: str) -> str:
    method, path = route_key.split(" ", 1)
    return CONTRACT[(method, path)][0]


def test_there_is_a_sample_event_for_every_route():
    covered = {json.loads(path.read_text())["routeKey"] for path in HTTP_EVENTS}
    assert covered == {f"{method} {path}" for method, path in CONTRACT}


def _run_order() -> list[Path]:
    """The HTTP samples in the order of docs/api.md's route table (a route's samples by name), so a new route's
    sample runs where its row is, with no list to keep: the table's order is one a client can follow."""
    rank = {f"{method} {path}": index for index, (method, path) in enumerate(row["route"] for row in ROUTES)}
    return sorted(HTTP_EVENTS, key=lambda path: (rank[json.loads(path.read_text())["routeKey"]], path.stem))


@pytest.mark.usefixtures("tables")
def test_sample_events_run_in_the_route_table_s_order_through_their_functions():
    assert len(HTTP_EVENTS) + len(SCHEDULED_EVENTS) + len(QUEUE_EVENTS) + len(STREAM_EVENTS) + len(TRIGGER_EVENTS) == len(EVENT_FILES), (
        "every sample event is run by a test")
    order = _run_order()
    assert order[0].stem == "get-program" and order[1].stem == "enroll-member" and order[-1].stem == "erase-member"
    voucher, member, redemption = SAMPLE_VOUCHER, SAMPLE_MEMBER, None
    for path in order:
        text = path.read_text()
        event = json.loads(text.replace(SAMPLE_VOUCHER, voucher).replace(SAMPLE_MEMBER, member)
                           .replace(SAMPLE_REDEMPTION, redemption or SAMPLE_REDEMPTION))
        function = _function_for(event["routeKey"]).removesuffix("Function").lower()
        reply = call(function, event)
        assert reply.status in (200, 201), (path.stem, reply.body)
        body = reply.body if isinstance(reply.body, dict) else {}
        voucher = body.get("voucher_code", voucher)  # the last redemption's voucher is checked and used...
        member = body["member_id"] if path.stem == "enroll-member" else member
        redemption = redemption or body.get("redemption_id")  # ...and the first one (points) cancelled


def test_dashboard_is_valid_json_and_every_alarm_notifies():
    body, variables = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert not variables
    widgets = json.loads(re.sub(r"\$\{[\w:]+\}", "x", body))["widgets"]
    titles = {widget["properties"]["title"] for widget in widgets}
    assert {"Program activity (per 5 min)", "Redemption failures by code", "Function errors"} <= titles
    alarms = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"Api5xxRateAlarm", "DynamoDBThrottleAlarm", "JobFailuresAlarm", "JobDeadLettersAlarm", "EventDeadLettersAlarm",
            "ScheduleDeadLettersAlarm", "StoreRejectedAlarm"} <= alarms
    for name in alarms:
        assert RESOURCES[name]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    # STORE_REJECTED is counted under the namespace and metric the resolver publishes, whichever function answers it
    namespace = RESOURCES["EarnFunction"]["Properties"].get("Environment", {}).get("Variables", {}).get(
        "POWERTOOLS_METRICS_NAMESPACE") or TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    query = RESOURCES["StoreRejectedAlarm"]["Properties"]["Metrics"][0]["Expression"]
    assert query == f"SELECT SUM(StoreRejected) FROM SCHEMA({namespace}, service)"


@pytest.mark.usefixtures("tables")
def test_scheduled_sample_events_run_their_jobs():
    for name, function in (("expire-points-scheduled", "expire_points"), ("tier-review-scheduled", "tier_review")):
        event = json.loads((ROOT / "events" / f"{name}.json").read_text())
        result = load_function(function).lambda_handler(event, LambdaContext())
        assert result["now"].startswith(event["time"][:19])


@pytest.mark.usefixtures("tables")
def test_the_job_worker_sample_applies_its_batch_and_reports_no_failure():
    (path,) = QUEUE_EVENTS
    event = json.loads(path.read_text())
    batch = json.loads(event["Records"][0]["body"])
    assert batch["job"] == "expire" and batch["member_ids"] == [SAMPLE_MEMBER]
    member = call("enroll", json.loads((ROOT / "events" / "enroll-member.json").read_text())).body["member_id"]
    event["Records"][0]["body"] = json.dumps({**batch, "member_ids": [member]})
    result = load_function("job_worker").lambda_handler(event, LambdaContext(function_name="job_worker"))
    assert result == {"batchItemFailures": []}


def test_the_stream_publisher_sample_publishes_the_campaign_s_activation(tmp_path):
    (path,) = STREAM_EVENTS
    events_file = tmp_path / "events.jsonl"
    publisher = load_function("publish_events", LOCAL_EVENTS_FILE=str(events_file))
    result = publisher.lambda_handler(json.loads(path.read_text()), LambdaContext(function_name="publish_events"))
    assert result == {"batchItemFailures": []}
    (published,) = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert published["detail-type"] == "CampaignActivated"
    assert published["detail"] == {"event_id": "7de3041dd709b024af6f29e4fa13d34c", "campaign_id": "coffee-double",
                                   "name": "Double points on coffee", "starts_at": None, "ends_at": None,
                                   "at": "2026-12-01T09:00:00Z"}


def test_every_job_has_its_schedule_and_the_worker_reports_partial_failures():
    def schedules(name):
        return [e["Properties"]["Schedule"] for e in FUNCTIONS[name]["Properties"]["Events"].values() if e["Type"] == "Schedule"]

    assert schedules("ExpirePointsFunction") == ["cron(15 0 * * ? *)"]
    assert schedules("TierReviewFunction") == ["cron(30 1 1 * ? *)"]
    for name in ("ExpirePointsFunction", "TierReviewFunction"):  # invoked asynchronously: a failed run is kept
        dead_letters = FUNCTIONS[name]["Properties"]["DeadLetterQueue"]
        assert dead_letters == {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}}
    assert RESOURCES["ScheduleDeadLettersAlarm"]["Properties"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["ScheduleDeadLetterQueue", "QueueName"]
    }
    worker = FUNCTIONS["JobWorkerFunction"]["Properties"]["Events"]["Jobs"]["Properties"]
    assert worker["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = RESOURCES["JobQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobDeadLetterQueue", "Arn"]}
    streams = {
        e["Properties"]["Stream"]["Fn::GetAtt"][0]
        for e in FUNCTIONS["PublishEventsFunction"]["Properties"]["Events"].values() if e["Type"] == "DynamoDB"
    }
    assert streams == {"MembersTable", "LedgerTable", "CatalogTable"}


def test_the_stream_publisher_reports_failed_records_and_lambda_honours_it():
    """The publisher answers batchItemFailures; without ReportBatchItemFailures Lambda ignores it and drops events."""
    events = FUNCTIONS["PublishEventsFunction"]["Properties"]["Events"]
    streams = [event for event in events.values() if event["Type"] == "DynamoDB"]
    assert len(streams) == 3
    for stream in streams:
        assert stream["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_campaigns_per_day_counters_expire_by_the_attribute_the_store_writes():
    from loyalty.store.models import CampaignCounterModel

    ttl = TEMPLATE["Resources"]["StatsTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": CampaignCounterModel.expires.attr_name, "Enabled": True}
