"""The chaos run in `make test`: seeded and small, without the SDK's retries so that every fault reaches a client
(the larger run, with the shipped retries and the share of 2xx, is `make bench`'s benchmarks/chaos.py)."""

from __future__ import annotations

import boto3

from benchmarks.chaos import ChaosRun, report
from benchmarks.environment import queue_on_bus
from loyalty.store.faults import FaultPlan
from tests.faults.conftest import Handlers

SEED = 2126
OPERATIONS = 160
PLAN = (f"seed={SEED};dynamodb.*=throttle:0.04,conflict:0.03,lost:0.03,reset:0.02,internal:0.02;"
        "eventbridge.PutEvents=partial:0.2,throttling:0.05")  # 14% of DynamoDB calls, 25% of PutEvents


def test_the_chaos_run_breaks_no_invariant(inject, capsys):
    received = queue_on_bus("chaos")
    injector = inject(FaultPlan.parse(PLAN))
    handlers = Handlers(DYNAMODB_MAX_ATTEMPTS="1", CATALOG_CACHE_SECONDS="0", CAMPAIGN_CACHE_SECONDS="0")
    # A job run makes dozens of calls (a Query per shard): without the SDK's retries almost every run would fail.
    job_handlers = Handlers()

    def call(function: str, event: dict):
        answer = handlers.call(function, event)
        return answer.status, answer.body, answer.headers

    def job(function: str, event: dict):
        from tests.conftest import LambdaContext, load_function

        handler = load_function(function, 0, **job_handlers.env).lambda_handler
        return 200, handler(event, LambdaContext(function_name=function)), {}

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    run = ChaosRun(lambda function, event: (job if "routeKey" not in event else call)(function, event), injector, dynamodb,
                   seed=SEED, operations=OPERATIONS)
    outcome = run.run()

    run.deliver_events("chaos", received, sleep=lambda seconds: None)
    report(outcome, PLAN)
    printed = capsys.readouterr().out
    print(printed)
    assert f"seed {SEED}" in printed and "injected" in printed and "checked" in printed
    assert sum(count for kinds in outcome.injected.values() for count in kinds.values()) > 20, "faults were injected"
    assert outcome.statuses[503] > 0, "and reached the clients"
    assert outcome.violations == []
