"""template.yaml keeps its promises: the routes and scopes of docs/api.md, least-privilege IAM per function,
the e-mail hash key kept in SSM, protected tables, checkov findings explained, sample events that run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cfnlint.decode import decode

from tests.conftest import TEST_UNSUBSCRIBE_KEY, LambdaContext, call, load_function

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
PUBLIC_ROUTES = {("POST", "/v1/unsubscribe")}
CONTRACT = {row["route"]: (row["function"], row["scopes"]) for row in ROUTES if row["status"] == "implemented"}


def _served() -> dict[tuple[str, str], tuple[str, set[str]]]:
    served = {}
    for name, function in FUNCTIONS.items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                served[(props["Method"].upper(), props["Path"])] = (name, set(props["Auth"].get("AuthorizationScopes", [])))
    return served


def test_the_route_table_of_docs_api_md_is_read():
    assert len(CONTRACT) >= 9 and {row["status"] for row in ROUTES} <= {"implemented", "planned"}
    assert all(row["function"] and (row["scopes"] or row["route"] in PUBLIC_ROUTES) for row in ROUTES if row["status"] == "implemented")


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
    # ...but one: a mail client's one-click unsubscribe (RFC 8058) carries a signed link, never a bearer token
    assert {route for route, (_, scopes) in _served().items() if not scopes} == PUBLIC_ROUTES
    for function in FUNCTIONS.values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props_ = event["Properties"]
                public = (props_["Method"].upper(), props_["Path"]) in PUBLIC_ROUTES
                assert props_["Auth"]["Authorizer"] == ("NONE" if public else "LoyaltyJwt")
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
        "CatalogTable": {"dynamodb:Query"},  # the program's versions (pk "PROGRAM" only), cached
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
        "MessagesTable": {"dynamodb:Query"},  # the export's message log
    },
    # dispatchers only find due members through their index; the worker writes
    "ExpirePointsFunction": {"MembersTable": {"dynamodb:Query"}},
    "TierReviewFunction": {"MembersTable": {"dynamodb:Query"}},
    "JobWorkerFunction": {
        "MembersTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "LedgerTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "StatsTable": {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"},  # BatchGetItem: the roll-up's days
        "CatalogTable": {"dynamodb:Query"},  # the program's versions (pk "PROGRAM" only), cached
    },
    # the program's versions: one Query lists them, a conditional PutItem publishes one (pk "PROGRAM" only)
    "ProgramFunction": {"CatalogTable": {"dynamodb:Query", "dynamodb:PutItem"}},
    # reads the streams through its event source mappings; adds the campaigns' statistics of new earns (a marker
    # put and counter updates in one transaction)
    "PublishEventsFunction": {"StatsTable": {"dynamodb:PutItem", "dynamodb:UpdateItem"}},
    "PreTokenFunction": {},  # Cognito's pre-token trigger: reads its event, calls nothing
    # the back office's catalog: create (conditional put), replace, retire and stock (conditional updates);
    # a refused stock change reads the reward to say why. Nothing else: no member, ledger or counter.
    "CatalogFunction": {"CatalogTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                         "dynamodb:Query"}},  # + the program's versions (the tiers min_tier may name)
    # insight queries: one item each, written whole (started, then settled); a campaign's dates for campaign_lift
    "InsightsFunction": {"InsightQueriesTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
                         "CatalogTable": {"dynamodb:GetItem", "dynamodb:Query"}},  # Query: the snapshots' marks
    # the nightly member-facts snapshot: every member (the one Scan, off every request path); the segments and the
    # program's versions in, the ANALYTICS documents (snapshot marks, RFM boundaries) out
    "SnapshotFunction": {"MembersTable": {"dynamodb:Scan"}, "CatalogTable": {"dynamodb:Query", "dynamodb:PutItem"}},
    # campaigns: create (conditional put), replace, activate, end (conditional updates), read and list them;
    # their counters (written by earn) are only read, one BatchGetItem per answer
    "CampaignsFunction": {
        "CatalogTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"},
        "StatsTable": {"dynamodb:BatchGetItem"},
    },
    # webhook subscriptions: add (conditional put), list (one Query), read, remove (DeleteItem on SUB keys only);
    # tests and retries write their delivery's log item and go to the queue
    "WebhooksFunction": {"WebhooksTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"}},
    # delivery: the subscriptions (one Query per batch), a batch's log items (BatchGetItem, then BatchWriteItem on
    # D# keys only), a retry's log item, the subscription's health
    "DeliverWebhooksFunction": {"WebhooksTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
                                                  "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"}},
    # member messages: the program's versions (locale, weekly cap); the member's address, consent and locale (one
    # GetItem); templates, the member's marketing week, a claim with its log entry and week (one transaction), its
    # outcome; a claim released, an erased member's log and week deleted
    "SendMessagesFunction": {"CatalogTable": {"dynamodb:Query"}, "MembersTable": {"dynamodb:GetItem"},
                             "MessagesTable": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                               "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}},
    # the message routes: the member a path names (and "me"'s marker); templates read, listed (a Query per kind) and
    # written as the next version; the log (one Query); unsubscribe: the member and its consent entry (one transaction)
    "MessagesFunction": {"CatalogTable": {"dynamodb:Query"}, "MembersTable": {"dynamodb:GetItem", "dynamodb:PutItem"}, "LedgerTable": {"dynamodb:PutItem"},
                         "MessagesTable": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}},
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
SUBSCRIPTION_DELETE_CONDITION = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SUB"]}}
DELIVERY_LOG_CONDITION = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["D#*"]}}
MESSAGE_LOG_CONDITION = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["E#*", "L#*", "W#*"]}}


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
                    assert (name, statement["Action"], statement.get("Condition")) in (  # ...and a webhook subscription
                        ("EnrollFunction", ["dynamodb:DeleteItem"], MARKER_DELETE_CONDITION),
                        ("WebhooksFunction", ["dynamodb:DeleteItem"], SUBSCRIPTION_DELETE_CONDITION),
                        ("SendMessagesFunction", ["dynamodb:DeleteItem", "dynamodb:BatchWriteItem"], MESSAGE_LOG_CONDITION))
                    continue
                if action == "dynamodb:BatchWriteItem":  # could delete: only the webhook delivery log's items, in batches
                    assert (name, statement["Action"], statement.get("Condition")) in (  # ...and a message claim or log
                        ("DeliverWebhooksFunction", ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"], DELIVERY_LOG_CONDITION),
                        ("SendMessagesFunction", ["dynamodb:DeleteItem", "dynamodb:BatchWriteItem"], MESSAGE_LOG_CONDITION))
                    continue
                if action == "dynamodb:Scan":  # the nightly snapshot alone reads every member, on the members table only
                    assert (name, statement["Action"], statement["Resource"]) == (
                        "SnapshotFunction", ["dynamodb:Scan"], {"Fn::GetAtt": ["MembersTable", "Arn"]})
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
    # webhooks: the admin routes queue tests and retries, the deliverer its retries and WebhookDisabled on the bus
    for name in ("WebhooksFunction", "DeliverWebhooksFunction"):
        assert _environment(FUNCTIONS[name])["WEBHOOK_QUEUE_URL"] == {"Ref": "WebhookDeliveryQueue"}
        assert senders[name] == {"WebhookDeliveryQueue"}
    deliver = FUNCTIONS["DeliverWebhooksFunction"]
    assert _environment(deliver)["EVENT_BUS_NAME"] == {"Ref": "LoyaltyEventBus"}
    assert [s["Action"] for s in _statements(deliver) if "LoyaltyEventBus" in str(s["Resource"])] == [["events:PutEvents"]]
    # the nightly snapshot announces the personalised offers that started (OfferAvailable)
    snapshot = FUNCTIONS["SnapshotFunction"]
    assert _environment(snapshot)["EVENT_BUS_NAME"] == {"Ref": "LoyaltyEventBus"}
    assert [s["Action"] for s in _statements(snapshot) if "LoyaltyEventBus" in str(s["Resource"])] == [["events:PutEvents"]]
    publishers = {"PublishEventsFunction", "DeliverWebhooksFunction", "SnapshotFunction"}
    for name in set(FUNCTIONS) - {"ExpirePointsFunction", "TierReviewFunction", "WebhooksFunction"} - publishers:
        assert not senders[name] and "JOB_QUEUE_URL" not in _environment(FUNCTIONS[name]), name
    for name in set(FUNCTIONS) - publishers:
        assert "EVENT_BUS_NAME" not in _environment(FUNCTIONS[name]), name


def test_every_domain_event_reaches_the_webhook_queue_and_only_its_deliverer_reads_it():
    rule = RESOURCES["WebhookEventsRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "LoyaltyEventBus"} and rule["EventPattern"] == {"source": ["loyalty"]}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["WebhookDeliveryQueue", "Arn"]}
    policy = RESOURCES["WebhookDeliveryQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert policy == [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                       "Resource": {"Fn::GetAtt": ["WebhookDeliveryQueue", "Arn"]},
                       "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["WebhookEventsRule", "Arn"]}}}}]
    queue = RESOURCES["WebhookDeliveryQueue"]["Properties"]
    # each step of the backoff is a receive: 24 h of doubling steps from 30 s is 13 attempts, plus postponements
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 30 and queue["MessageRetentionPeriod"] > 24 * 3600
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
    consumers = [name for name, f in FUNCTIONS.items() for e in f["Properties"].get("Events", {}).values()
                 if e["Type"] == "SQS" and e["Properties"]["Queue"] == {"Fn::GetAtt": ["WebhookDeliveryQueue", "Arn"]}]
    assert consumers == ["DeliverWebhooksFunction"]
    (mapping,) = FUNCTIONS["DeliverWebhooksFunction"]["Properties"]["Events"].values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    visibility = [s for s in _statements(FUNCTIONS["DeliverWebhooksFunction"]) if "sqs:ChangeMessageVisibility" in s["Action"]]
    assert visibility and visibility[0]["Resource"] == {"Fn::GetAtt": ["WebhookDeliveryQueue", "Arn"]}
    # a disabled subscription is an alarm: the metric the deliverer counts, in the functions' namespace
    alarm = RESOURCES["WebhookDisabledAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (TEMPLATE["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"], "WebhookDisabled")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "deliver_webhooks"}]
    assert "WebhookDisabled" in (ROOT / "functions" / "deliver_webhooks" / "app.py").read_text()


def test_webhook_secrets_are_sealed_with_their_own_key_encrypt_for_the_admin_decrypt_for_the_deliverer():
    key = RESOURCES["WebhookSecretsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    for name, action in (("WebhooksFunction", "kms:Encrypt"), ("DeliverWebhooksFunction", "kms:Decrypt")):
        kms = [s for s in _statements(FUNCTIONS[name]) if any(a.startswith("kms:") for a in s["Action"])]
        assert kms == [{"Effect": "Allow", "Action": [action], "Resource": {"Fn::GetAtt": ["WebhookSecretsKey", "Arn"]}}], name
        assert _environment(FUNCTIONS[name])["WEBHOOK_SECRETS_KEY_ID"] == {"Fn::GetAtt": ["WebhookSecretsKey", "Arn"]}
    for name in set(FUNCTIONS) - {"WebhooksFunction", "DeliverWebhooksFunction"}:
        assert "WebhookSecretsKey" not in str(FUNCTIONS[name]["Properties"].get("Policies")), name


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
        ssm = [s for s in _statements(function) if any(a.startswith(("ssm:", "kms:")) for a in s["Action"])
               and "WebhookSecretsKey" not in str(s["Resource"])  # the webhook secrets' key: tested below
               and "UnsubscribeKeyParameter" not in str(s["Resource"])]  # the unsubscribe key: tested below
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


def test_only_the_message_functions_may_read_the_unsubscribe_key_and_only_that_parameter():
    readers = {name for name, f in FUNCTIONS.items() if "UNSUBSCRIBE_KEY_PARAMETER" in _environment(f)}
    assert readers == {"SendMessagesFunction", "MessagesFunction"}
    assert "NoEcho" not in TEMPLATE["Parameters"]["UnsubscribeKeyParameter"] and "Default" not in TEMPLATE["Parameters"]["UnsubscribeKeyParameter"]
    for name, function in FUNCTIONS.items():
        found = [s for s in _statements(function) if "UnsubscribeKeyParameter" in str(s["Resource"])]
        assert "UNSUBSCRIBE_KEY" not in _environment(function), name
        if name not in readers:
            assert not found, name
            continue
        assert _environment(function)["UNSUBSCRIBE_KEY_PARAMETER"] == {"Ref": "UnsubscribeKeyParameter"}
        assert [(s["Action"], s["Resource"]) for s in found] == [(["ssm:GetParameter"], {
            "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${UnsubscribeKeyParameter}"})]


def test_the_message_sender_may_send_only_as_its_identity_through_its_configuration_set():
    function = FUNCTIONS["SendMessagesFunction"]
    ses = [s for s in _statements(function) if any(a.startswith("ses:") for a in s["Action"])]
    assert [s["Action"] for s in ses] == [["ses:SendEmail"]]
    assert ses[0]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MessageSenderIdentity}"},
        {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${MessageConfigurationSet}"}]
    for name, other in FUNCTIONS.items():
        if name != "SendMessagesFunction":
            assert not any(a.startswith("ses:") for s in _statements(other) for a in s["Action"]), name
    env = _environment(function)
    assert env["SES_CONFIGURATION_SET"] == {"Ref": "MessageConfigurationSet"}
    assert env["SES_IDENTITY_ARN"] == ses[0]["Resource"][0]
    suppression = RESOURCES["MessageConfigurationSet"]["Properties"]["SuppressionOptions"]
    assert suppression == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}
    rule = RESOURCES["MessageEventsRule"]["Properties"]
    assert rule["EventPattern"]["detail-type"] == ["MemberEnrolled", "PointsExpiringSoon", "TierChanged", "PointsRedeemed",
                                                   "BirthdayBonusCredited", "OfferAvailable", "MemberErased"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["MessageQueue", "Arn"]}
    (source,) = function["Properties"]["Events"].values()
    assert source["Properties"]["Queue"] == {"Fn::GetAtt": ["MessageQueue", "Arn"]}
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


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


SNAPSHOT_STORE = "loyalty.jobs.snapshot_store"  # the nightly snapshot's read of every member: the one Scan


def test_api_code_never_scans():
    package = ROOT / "layers" / "loyalty" / "loyalty"
    scanning = [path.relative_to(package.parent).with_suffix("").as_posix().replace("/", ".")
                for path in package.rglob("*.py") if re.search(r"\.scan\(|\bScan\b", path.read_text())]
    assert scanning == [SNAPSHOT_STORE]
    # ...imported by the snapshot function alone (through the snapshot job), never by a function serving a route
    importers = [path.parent.name for path in (ROOT / "functions").glob("*/app.py")
                 if re.search(r"loyalty\.jobs\.snapshot\b|loyalty\.jobs\.snapshot_store\b", path.read_text())]
    assert importers == ["snapshot"]
    users = [path.name for path in package.rglob("*.py") if "snapshot_store" in path.read_text()
             and path.stem not in ("snapshot", "snapshot_store")]
    assert not users


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
SAMPLE_UNSUBSCRIBE_SIGNATURE = "SAMPLE-UNSUBSCRIBE-SIGNATURE"  # unsubscribe's; the run signs the enrolled member's token
SAMPLE_QUERY = "q-0123456789abcdef0123456789abcdef"  # get-insight's; the run reads the query run-insight started
# The webhook admin samples need a queue and a KMS key: they run in their own test, in the order a client would.
WEBHOOK_EVENTS = [path for path in HTTP_EVENTS if "/v1/webhooks" in json.loads(path.read_text())["routeKey"]]
WEBHOOK_ORDER = ["create-webhook", "list-webhooks", "get-webhook", "test-webhook", "list-webhook-deliveries",
                 "retry-webhook-delivery", "remove-webhook"]
SAMPLE_WEBHOOK, SAMPLE_DELIVERY = "wh_5b0e1c2d3f4a6b7c", "20261123T100000Z-3c9e1f2a4b5d6e7f"


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
    return sorted([path for path in HTTP_EVENTS if path not in WEBHOOK_EVENTS],
                  key=lambda path: (rank[json.loads(path.read_text())["routeKey"]], path.stem))


@pytest.mark.usefixtures("tables")
def test_sample_events_run_in_the_route_table_s_order_through_their_functions():
    assert len(HTTP_EVENTS) + len(SCHEDULED_EVENTS) + len(QUEUE_EVENTS) + len(STREAM_EVENTS) + len(TRIGGER_EVENTS) == len(EVENT_FILES), (
        "every sample event is run by a test")
    order = _run_order()
    assert order[0].stem == "get-program" and order[1].stem == "enroll-member" and order[-1].stem == "erase-member"
    voucher, member, redemption, query = SAMPLE_VOUCHER, SAMPLE_MEMBER, None, SAMPLE_QUERY
    for path in order:
        text = path.read_text()
        if path.stem == "unsubscribe":  # its link's token is signed for the member the run enrolled
            from loyalty.messages.unsubscribe import UnsubscribeTokens

            text = text.replace(f"{SAMPLE_MEMBER}.{SAMPLE_UNSUBSCRIBE_SIGNATURE}", UnsubscribeTokens(TEST_UNSUBSCRIBE_KEY).token(member))
        event = json.loads(text.replace(SAMPLE_VOUCHER, voucher).replace(SAMPLE_MEMBER, member)
                           .replace(SAMPLE_REDEMPTION, redemption or SAMPLE_REDEMPTION).replace(SAMPLE_QUERY, query))
        function = _function_for(event["routeKey"]).removesuffix("Function").lower()
        if path.stem == "get-segment-size":  # sizes are counted on a snapshot: the nightly job's, taken now
            load_function("snapshot").lambda_handler(json.loads((ROOT / "events" / "snapshot-scheduled.json").read_text()),
                                                     LambdaContext(function_name="snapshot"))
        reply = call(function, event)
        assert reply.status in (200, 201, 202), (path.stem, reply.body)
        body = reply.body if isinstance(reply.body, dict) else {}
        voucher = body.get("voucher_code", voucher)  # the last redemption's voucher is checked and used...
        member = body["member_id"] if path.stem == "enroll-member" else member
        redemption = redemption or body.get("redemption_id")  # ...and the first one (points) cancelled
        query = body.get("query_id", query)


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
    enrolled = call("enroll", json.loads((ROOT / "events" / "enroll-member.json").read_text())).body["member_id"]
    event = json.loads((ROOT / "events" / "snapshot-scheduled.json").read_text())
    result = load_function("snapshot").lambda_handler(event, LambdaContext(function_name="snapshot"))
    assert enrolled and result["members"] >= 1 and result["snapshot_day"]


@pytest.mark.usefixtures("tables")
def test_the_job_worker_sample_applies_its_batch_and_reports_no_failure():
    event = json.loads((ROOT / "events" / "job-worker-batch.json").read_text())
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


# ------------------------------------------------------------------ the back-office console


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in (p.strip() for p in policy.split(";")) if part}


def test_the_console_is_a_private_bucket_read_only_by_its_distribution_through_origin_access_control():
    bucket = RESOURCES["ConsoleBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    oac = RESOURCES["ConsoleOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == ("s3", "always", "sigv4")
    config = RESOURCES["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    [origin] = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy identity: OAC only
    [allow, deny] = RESOURCES["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert "ConsoleDistribution" in json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for behavior in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]:
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": "ConsoleHeadersPolicy"}
    assert "ConsoleUrl" in TEMPLATE["Outputs"]


def test_the_console_s_headers_in_aws_are_the_local_runtime_s():
    from loyalty_local.console import CONTENT_SECURITY_POLICY

    headers = RESOURCES["ConsoleHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    aws = _directives(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"])
    local = _directives(CONTENT_SECURITY_POLICY)
    assert {k: v for k, v in aws.items() if k != "connect-src"} == {k: v for k, v in local.items() if k != "connect-src"}
    assert aws["script-src"] == "'self'" and aws["frame-ancestors"] == "'none'" and "unsafe" not in json.dumps(aws)
    assert aws["connect-src"].startswith("'self' https://*.execute-api.")  # the API on its own origin, and the token endpoint
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"]["Override"] is True


def test_the_console_signs_in_with_code_and_pkce_and_only_its_origin_may_call_the_api():
    client = RESOURCES["ConsoleClient"]["Properties"]
    assert client["GenerateSecret"] is False and client["AllowedOAuthFlows"] == ["code"]
    assert ADMIN in client["AllowedOAuthScopes"]
    assert client["CallbackURLs"] == [{"Fn::Sub": "https://${ConsoleDistribution.DomainName}/"}]
    audience = RESOURCES["HttpApi"]["Properties"]["Auth"]["Authorizers"]["LoyaltyJwt"]["JwtConfiguration"]["audience"]
    assert {"Ref": "ConsoleClient"} in audience["Fn::If"][1]
    cors = RESOURCES["HttpApi"]["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == [{"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}]
    assert RESOURCES["BackOfficeGroup"]["Properties"]["GroupName"] == "back-office"

# ------------------------------------------------------------------ the analytics store and insights


def test_every_event_on_the_bus_reaches_the_analytics_stream_by_a_rule_with_retries():
    rule = RESOURCES["EventsToAnalyticsRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "LoyaltyEventBus"} and rule["EventPattern"] == {"source": ["loyalty"]}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["AnalyticsDeliveryStream", "Arn"]} and target["RetryPolicy"]
    role = RESOURCES["EventsToAnalyticsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert role == [{"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                     "Resource": {"Fn::GetAtt": ["AnalyticsDeliveryStream", "Arn"]}}]


def test_firehose_writes_parquet_with_the_glue_schema_by_the_event_s_day_encrypted_with_an_error_prefix():
    stream = RESOURCES["AnalyticsDeliveryStream"]["Properties"]
    assert stream["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == "AWS_OWNED_CMK"
    s3 = stream["ExtendedS3DestinationConfiguration"]
    assert s3["Prefix"] == "events/day=!{partitionKeyFromQuery:day}/" and s3["ErrorOutputPrefix"].startswith("errors/")
    assert s3["BufferingHints"]["SizeInMBs"] >= 64  # Firehose's minimum with format conversion
    conversion = s3["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] and "ParquetSerDe" in conversion["OutputFormatConfiguration"]["Serializer"]
    assert conversion["SchemaConfiguration"]["TableName"] == "events"
    query = s3["ProcessingConfiguration"]["Processors"][0]["Parameters"][0]["ParameterValue"]
    from loyalty.insights.schema import DAY_OF

    assert query.index(".detail." + DAY_OF[0]) < query.index(".detail." + DAY_OF[1]) < query.index(".time")  # as day_of


def test_the_glue_events_table_has_the_local_store_s_columns_and_projected_day_partitions():
    from loyalty.insights.schema import glue_detail_type

    table = RESOURCES["AnalyticsEventsTable"]["Properties"]["TableInput"]
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert columns == {"id": "string", "detail_type": "string", "source": "string", "time": "string",
                       "detail": glue_detail_type()}
    assert table["PartitionKeys"] == [{"Name": "day", "Type": "string"}]
    assert table["Parameters"]["projection.enabled"] == "true" and table["Parameters"]["projection.day.type"] == "date"


def test_the_analytics_bucket_is_private_encrypted_tls_only_and_ages_out():
    bucket = RESOURCES["AnalyticsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    prefixes = {rule.get("Prefix") for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert {"events/", "athena-results/", "errors/"} <= prefixes
    [deny] = RESOURCES["AnalyticsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_athena_workgroup_caps_every_query_s_scan_and_the_insights_function_may_use_only_it():
    workgroup = RESOURCES["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert workgroup["BytesScannedCutoffPerQuery"] == {"Ref": "AnalyticsScanLimitBytes"}
    assert workgroup["EnforceWorkGroupConfiguration"] is True  # a query cannot lift the cap
    assert workgroup["ResultConfiguration"]["OutputLocation"]
    statements = _statements(FUNCTIONS["InsightsFunction"])
    athena = [s for s in statements if any(a.startswith("athena:") for a in s["Action"])]
    assert len(athena) == 1 and "workgroup/${AthenaWorkGroup}" in json.dumps(athena[0]["Resource"])
    writes = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert [json.dumps(s["Resource"]) for s in writes] == ['{"Fn::Sub": "${AnalyticsBucket.Arn}/athena-results/*"}']
    variables = _environment(FUNCTIONS["InsightsFunction"])
    assert variables["ANALYTICS_ENGINE"] == "athena" and variables["ATHENA_WORKGROUP"] == {"Ref": "AthenaWorkGroup"}


@pytest.mark.usefixtures("tables")
def test_the_webhook_samples_run_in_a_client_s_order_and_the_deliverer_s_sample_is_delivered(tmp_path):
    """Subscribe (a receiver on this machine instead of the sample's https URL, resolved by nobody), list, read, queue
    a test, read the log, retry, and the deliverer's batch: its event reaches the receiver, signed; then remove."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import boto3

    from loyalty.webhooks.signing import HEADER, verify

    assert sorted(path.stem for path in WEBHOOK_EVENTS) == sorted(WEBHOOK_ORDER)
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append((self.headers, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    queue = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="webhooks")["QueueUrl"]
    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    env = {"WEBHOOK_QUEUE_URL": queue, "WEBHOOK_SECRETS_KEY_ID": key, "WEBHOOK_URL_POLICY": "public-or-loopback-http",
           "LOCAL_EVENTS_FILE": str(tmp_path / "events.jsonl")}
    webhook, delivery, secret = SAMPLE_WEBHOOK, SAMPLE_DELIVERY, None
    try:
        for stem in WEBHOOK_ORDER:
            event = json.loads((ROOT / "events" / f"{stem}.json").read_text().replace(SAMPLE_WEBHOOK, webhook)
                               .replace(SAMPLE_DELIVERY, delivery)
                               .replace("https://hooks.example.com/loyalty", f"http://127.0.0.1:{server.server_port}/hook"))
            reply = call("webhooks", event, **env)
            assert reply.status in (200, 201, 202), (stem, reply.body)
            if stem == "create-webhook":
                webhook, secret = reply["webhook_id"], reply["secret"]
            if stem == "get-webhook":
                assert "secret" not in reply.body
            if stem == "test-webhook":
                delivery = reply["delivery_id"]
            if stem == "retry-webhook-delivery":
                batch = json.loads((ROOT / "events" / "deliver-webhooks-batch.json").read_text())
                deliverer = load_function("deliver_webhooks", **env)
                assert deliverer.lambda_handler(batch, LambdaContext(function_name="deliver_webhooks")) == {"batchItemFailures": []}
                ((headers, body),) = received
                assert headers["Loyalty-Event-Type"] == "PointsEarned" and json.loads(body)["detail"]["points"] == 130
                assert verify(secret, body, headers[HEADER], int(time.time()))
    finally:
        server.shutdown()
