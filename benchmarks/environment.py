"""What every benchmark sets up for itself: the environment, API events, functions, and the verdict.

Benchmarks do not borrow the tests' fixtures: each sets the variables the deployed functions read,
explicitly, before it imports the package.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import os
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "loyalty"
FUNCTIONS = ROOT / "functions"

# What the functions read in AWS (template.yaml), with the local stand-ins for the queue and the bus.
FUNCTION_ENVIRONMENT = {
    "MEMBERS_TABLE": "MembersTable",
    "LEDGER_TABLE": "LedgerTable",
    "CATALOG_TABLE": "CatalogTable",
    "STATS_TABLE": "StatsTable",
    "MESSAGES_TABLE": "MessagesTable",  # the report function's export reads the message log
    "EMAIL_HASH_KEY": "bench-email-hash-key-0123456789",
    "JOB_QUEUE_URL": "local",
    "EVENT_BUS_NAME": "local",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def use_environment(**overrides: str) -> None:
    """Set the functions' environment in this process, and make the layer importable."""
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    os.environ.update(FUNCTION_ENVIRONMENT)
    os.environ.setdefault("LOCAL_EVENTS_FILE", str(Path(tempfile.mkdtemp(prefix="bench-")) / "events.jsonl"))
    os.environ.update(overrides)
    for path in (str(LAYER), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    # moto's server logs every request through werkzeug: thousands of lines before the first table.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass
class LambdaContext:
    function_name: str = "bench"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"


def load_function(name: str, instance: int = 0):
    """functions/<name>/app.py as its own module (every function's module is `app`), composed at import as in
    Lambda (AWS_LAMBDA_FUNCTION_NAME is set while it loads)."""
    module_name = f"bench_function_{name}_{instance}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / name / "app.py")
        module = importlib.util.module_from_spec(spec)
        from loyalty.core.platform import install
        from loyalty_local.local_platform import LocalPlatform

        install(LocalPlatform())  # as the local runtime's worker does: its clock, queue and events file
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = name
        try:
            spec.loader.exec_module(module)
        finally:
            del os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        sys.modules[module_name] = module
    return sys.modules[module_name]


_SAMPLE = json.loads((ROOT / "events" / "get-program.json").read_text())


def api_event(method: str, path: str, *, body: dict | None = None, scopes: str = "loyalty/pos", sub: str = "bench-pos",
              headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> dict:
    """The repository's sample HTTP API event (events/), aimed at another route and caller."""
    event = copy.deepcopy(_SAMPLE)
    parts = path.split("/")
    member = parts[3] if len(parts) > 3 and parts[2] == "members" else None
    route = "/".join(parts[:3] + ["{member_id}"] + parts[4:]) if member else path
    context = event["requestContext"]
    context["authorizer"]["jwt"]["claims"].update(sub=sub, scope=scopes)
    context["http"].update(method=method, path=path)
    context["routeKey"] = event["routeKey"] = f"{method} {route}"
    context["requestId"] = str(uuid.uuid4())
    event.update(rawPath=path, body=json.dumps(body) if body is not None else None,
                 pathParameters={"member_id": member} if member else None, queryStringParameters=query,
                 rawQueryString="&".join(f"{name}={value}" for name, value in (query or {}).items()))
    event["headers"].update({name.lower(): value for name, value in (headers or {}).items()})
    return event


def verdict(missed: list[str]) -> int:
    """Print what missed its target (after the tables) and return the exit status."""
    if missed:
        print("\nMISSED: " + "; ".join(missed))
        return 1
    print("\nevery target met")
    return 0


def queue_on_bus(bus: str, region: str = "us-east-1"):
    """A new EventBridge bus whose rule forwards every domain event to a new SQS queue (moto), as a consumer in
    AWS would see them; answers a function that drains the queue: the events received since its last call."""
    import boto3

    from loyalty import events

    bridge, sqs = boto3.client("events", region_name=region), boto3.client("sqs", region_name=region)
    bridge.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=f"{bus}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bridge.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": [events.SOURCE]}))
    bridge.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict]:
        found = []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            found += [json.loads(message["Body"]) for message in messages]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(messages)])
        return found

    return received
