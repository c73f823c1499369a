"""Shared fixtures: moto tables created from template.yaml, API Gateway events, function loading."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Settings are read once at import; set a test environment before anything imports the package.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "LoyaltyTest",
        "POWERTOOLS_SERVICE_NAME": "loyalty-test",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "EMAIL_HASH_KEY": "test-email-hash-key-0123456789",
    }
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
for path in (ROOT / "layers" / "loyalty", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "req-0"


_import_lock = threading.Lock()


def load_function(name: str, instance: int = 0):
    """Import functions/<name>/app.py under a unique module name (every function's module is `app`).

    Each `instance` is a separate copy, like separate Lambda instances: a resolver holds the
    current event, so concurrent requests must not share one.
    """
    module_name = f"loyalty_function_{name}_{instance}"
    with _import_lock:  # concurrency tests call handlers from threads before the first import is done
        if module_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[module_name] = module
    return sys.modules[module_name]


def http_event(
    method: str, path: str, *, body=None, scopes: str = "loyalty/pos", sub: str = "pos-client-1",
    headers: dict | None = None, query: dict | None = None, raw_body: str | None = None,
) -> dict:
    """An API Gateway HTTP API (payload v2.0) event with the JWT authorizer's claims."""
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    all_headers = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    route_path = path
    path_parameters = None
    if path.startswith("/v1/members/") and path.count("/") >= 3:
        parts = path.split("/")
        path_parameters = {"member_id": parts[3]}
        route_path = "/".join(parts[:3] + ["{member_id}"] + parts[4:])
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
            "authorizer": {"jwt": {"claims": {"sub": sub, "scope": scopes, "client_id": "client"}, "scopes": None}},
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


def call(function: str, event: dict, instance: int = 0) -> Reply:
    response = load_function(function, instance).lambda_handler(event, LambdaContext(function_name=function))
    body = response.get("body") or "null"
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return Reply(response["statusCode"], json.loads(body))


@pytest.fixture
def tables():
    """Fresh moto DynamoDB with the template's tables and the demo catalog, for one test."""
    import boto3
    from moto import mock_aws

    from loyalty_local.template import create_tables

    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        from loyalty import seed, service

        seed.seed_demo()
        service._catalog_cache = None
        yield
        service._catalog_cache = None
