"""Shared fixtures: moto tables created from template.yaml, API Gateway events, functions and use cases.

Nothing here sets the process environment for the package's sake: a handler is imported with its
own environment (the template's, with the local values the local runtime would give it), and a
test that calls use cases builds a `Loyalty` with the collaborators it wants (a FixedClock...).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "loyalty", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from loyalty.clock import FixedClock  # noqa: E402
from loyalty.core.platform import install  # noqa: E402
from loyalty_local.local_platform import LocalPlatform  # noqa: E402
from loyalty.program import Program, load_program  # noqa: E402
from loyalty.settings import DEFAULT_PROGRAM_FILE, ApiSettings  # noqa: E402
from loyalty.clock import Clock  # noqa: E402
from loyalty.core.directory import Directory  # noqa: E402
from loyalty.core.email_hash import EmailHasher  # noqa: E402
from loyalty.earning.store import EarnStore  # noqa: E402
from loyalty.earning.use_cases import Earning, no_campaigns  # noqa: E402
from loyalty.core.programs import Programs  # noqa: E402
from loyalty.jobs.use_cases import ScheduledJobs  # noqa: E402
from loyalty.members.store import MemberStore  # noqa: E402
from loyalty.members.use_cases import Members  # noqa: E402
from loyalty.privacy.store import PrivacyStore  # noqa: E402
from loyalty.privacy.use_cases import MAX_EXPORT_ENTRIES, Privacy  # noqa: E402
from loyalty.reports.store import ReportStore  # noqa: E402
from loyalty.reports.use_cases import Reports  # noqa: E402
from loyalty.rewards.store import RedemptionStore  # noqa: E402
from loyalty.rewards.use_cases import Catalog, Redemptions  # noqa: E402
from loyalty.store.ledger import Store  # noqa: E402

REGION = "us-east-1"
TEST_EMAIL_HASH_KEY = "test-email-hash-key-0123456789"
TEST_UNSUBSCRIBE_KEY = "test-unsubscribe-key-0123456789"
TABLES = {"MEMBERS_TABLE": "MembersTable", "LEDGER_TABLE": "LedgerTable", "STATS_TABLE": "StatsTable",
          "CATALOG_TABLE": "CatalogTable"}  # locally a table's name is its logical id
FUNCTIONS = {  # functions/<name> -> logical id in template.yaml
    "enroll": "EnrollFunction", "earn": "EarnFunction", "redeem": "RedeemFunction", "report": "ReportFunction",
    "expire_points": "ExpirePointsFunction", "tier_review": "TierReviewFunction", "job_worker": "JobWorkerFunction",
    "publish_events": "PublishEventsFunction", "catalog": "CatalogFunction",
    "campaigns": "CampaignsFunction", "insights": "InsightsFunction",
    "webhooks": "WebhooksFunction", "deliver_webhooks": "DeliverWebhooksFunction", "program": "ProgramFunction",
    "send_messages": "SendMessagesFunction", "messages": "MessagesFunction", "snapshot": "SnapshotFunction",
}
ANALYTICS_DIR = Path(tempfile.mkdtemp(prefix="loyalty-analytics-"))  # the insights function's local store, per session
PROGRAM = load_program(DEFAULT_PROGRAM_FILE)
install(LocalPlatform())  # the functions loaded here run as the local runtime runs them (its clock, queue, events file)


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "req-0"


def function_environment(name: str, **extra: str) -> dict[str, str]:
    """A function's environment as the local runtime gives it: the template's variables, the local values
    of JOB_QUEUE_URL and EVENT_BUS_NAME, the e-mail key itself instead of its SSM parameter; a dispatcher
    working its batches in-process gets the worker's variables too."""
    from loyalty_local.template import functions

    specs = functions()
    env = dict(specs[FUNCTIONS[name]].environment)
    if "JOB_QUEUE_URL" in env:
        env = {**specs["JobWorkerFunction"].environment, **env, "JOB_QUEUE_URL": "local"}
    if "EVENT_BUS_NAME" in env:
        env["EVENT_BUS_NAME"] = "local"
    if "ANALYTICS_ENGINE" in env:  # as the local runtime gives it: DuckDB on a local store
        env.update(ANALYTICS_ENGINE="duckdb", ANALYTICS_DIR=str(ANALYTICS_DIR))
    if env.pop("UNSUBSCRIBE_KEY_PARAMETER", None):
        env["UNSUBSCRIBE_KEY"] = TEST_UNSUBSCRIBE_KEY
    if env.pop("EMAIL_HASH_KEY_PARAMETER", None) or "EMAIL_HASH_KEY" in env:
        env["EMAIL_HASH_KEY"] = TEST_EMAIL_HASH_KEY
    return {
        **env, "AWS_LAMBDA_FUNCTION_NAME": FUNCTIONS[name], "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "POWERTOOLS_METRICS_NAMESPACE": "LoyaltyTest",
        "POWERTOOLS_SERVICE_NAME": f"loyalty-test-{name}", "POWERTOOLS_LOG_LEVEL": "WARNING",
        # Tests change the catalog and the campaigns between calls, and a warm instance outlives its test's tables:
        # a cache kept for a minute would carry one test's campaigns into the next. The program's versions are
        # cached as deployed (60 s): only tests/functional/test_program_versions*.py publish, with instances of
        # their own that read them on every call (PROGRAM_CACHE_SECONDS=0).
        "CATALOG_CACHE_SECONDS": "0", "CAMPAIGN_CACHE_SECONDS": "0",
        **extra,
    }


_import_lock = threading.Lock()


def load_function(name: str, instance: int = 0, **env: str):
    """Import functions/<name>/app.py under a unique module name (every function's module is `app`),
    with its own environment during the import (its cold start).

    Each `instance` is a separate copy, like separate Lambda instances: a resolver holds the
    current event, so concurrent requests must not share one. `env` adds or overrides variables
    (a new combination is a new instance).
    """
    suffix = "_".join(f"{key}_{abs(hash(value))}" for key, value in sorted(env.items()))
    module_name = f"loyalty_function_{name}_{instance}{'_' + suffix if suffix else ''}"
    with _import_lock:  # concurrency tests call handlers from threads before the first import is done
        if module_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
            module = importlib.util.module_from_spec(spec)
            with mock.patch.dict(os.environ, function_environment(name, **env)):
                spec.loader.exec_module(module)
            sys.modules[module_name] = module
    return sys.modules[module_name]


def http_event(
    method: str, path: str, *, body=None, scopes: str = "loyalty/pos", sub: str | None = "pos-client-1",
    headers: dict | None = None, query: dict | None = None, raw_body: str | None = None,
    verified_email: str | None = None,
) -> dict:
    """An API Gateway HTTP API (payload v2.0) event with the JWT authorizer's claims (no `sub` claim when None;
    `verified_email`: the `email` claim with `email_verified` "true", as the pre-token trigger puts them)."""
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    all_headers = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    route_path = path
    path_parameters = None
    if path.startswith("/v1/members/") and path.count("/") >= 3:
        parts = path.split("/")
        path_parameters = {"member_id": parts[3]}
        route_path = "/".join(parts[:3] + ["{member_id}"] + parts[4:])
    claims = {"scope": scopes, "client_id": "client", **({"sub": sub} if sub is not None else {}),
              **({"email": verified_email, "email_verified": "true"} if verified_email is not None else {})}
    return {
        "version": "2.0",
        "routeKey": f"{method} {route_path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": all_headers,
        "queryStringParameters": query,
        "pathParameters": path_parameters,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
            "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route_path}",
            "stage": "$default",
            "time": "23/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795428000000,
        },
        "body": text,
        "isBase64Encoded": False,
    }


@dataclass
class Reply:
    status: int
    body: dict

    def __getitem__(self, key):
        return self.body[key]


def call(function: str, event: dict, instance: int = 0, **env: str) -> Reply:
    response = load_function(function, instance, **env).lambda_handler(event, LambdaContext(function_name=function))
    body = response.get("body") or "null"
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return Reply(response["statusCode"], json.loads(body))


def local_store(**settings) -> Store:
    """A store on the local tables (moto, or the endpoint in AWS_ENDPOINT_URL_DYNAMODB)."""
    values = {name.lower(): value for name, value in TABLES.items()}
    return Store.from_settings(ApiSettings(**values, aws_region=REGION, **settings))


@dataclass
class UseCases:
    """Every feature's use cases over one store, clock and program, as a test wants them all (a function composes
    only those it serves). A use case is reached by its feature (`uc.earning.earn`) or by its name (`uc.earn`)."""

    store: Store
    clock: Clock
    program: Program
    catalog: Catalog
    directory: Directory
    members: Members
    earning: Earning
    redemptions: Redemptions
    privacy: Privacy
    reports: Reports
    jobs: ScheduledJobs

    def __getattr__(self, name: str):
        for feature in ("directory", "members", "earning", "redemptions", "privacy", "reports", "jobs"):
            part = self.__dict__.get(feature)
            if part is not None and (hasattr(type(part), name) or name in getattr(part, "__dataclass_fields__", {})):
                return getattr(part, name)
        raise AttributeError(name)


def make_loyalty(
    at: datetime = datetime(2026, 11, 2, tzinfo=timezone.utc), program: Program = PROGRAM, store: Store | None = None,
    max_export_entries: int = MAX_EXPORT_ENTRIES, campaigns=None, programs: Programs | None = None,
) -> UseCases:
    """The use cases with a FixedClock (move it with `uc.clock.at = ...` or `.advance()`), the catalog read on every
    call, the test's e-mail key; `campaigns`: a callable giving the active campaigns to earn with (default: none);
    `programs`: the program's versions (default: `program` as the only version)."""
    store = store or local_store()
    clock, email_hash = FixedClock(at), EmailHasher(TEST_EMAIL_HASH_KEY)
    programs = programs or Programs.fixed(program, clock)
    redemption_store = RedemptionStore(store)
    catalog = Catalog(redemption_store.rewards)
    directory = Directory(store)
    return UseCases(
        store, clock, program, catalog, directory,
        Members(MemberStore(store), directory, clock, programs, email_hash),
        Earning(store, EarnStore(store), clock, programs, campaigns or no_campaigns),
        Redemptions(store, redemption_store, catalog, clock, programs),
        Privacy(store, PrivacyStore(store), directory, clock, programs, email_hash, max_export_entries=max_export_entries),
        Reports(ReportStore(store), clock, programs),
        ScheduledJobs(store, clock, programs),
    )


@pytest.fixture
def tables():
    """Fresh moto DynamoDB with the template's tables and the demo catalog, for one test."""
    import boto3
    from moto import mock_aws

    from loyalty import seed
    from loyalty_local.moto_atomic import make_dynamodb_atomic
    from loyalty_local.template import create_tables

    make_dynamodb_atomic()  # moto's own transactions restore whole tables on failure: a race would undo another's write
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name=REGION))
        seed.seed_demo(TABLES["CATALOG_TABLE"], REGION)
        yield


@pytest.fixture
def loyalty(tables) -> UseCases:
    return make_loyalty()


@pytest.fixture(scope="module")
def built_openapi() -> dict:
    """The OpenAPI document built from the code, as `make check-openapi` builds it: inside a test, not at collection,
    so that mutmut ties the resolver's route and response code to the tests that read the document."""
    from loyalty_local.openapi import build_openapi

    return build_openapi()
