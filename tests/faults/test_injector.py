"""The injector itself and the retry classification, on plain values and on moto's DynamoDB."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from hypothesis import given, settings
from hypothesis import strategies as st
from pynamodb.exceptions import TransactWriteError

from loyalty.domain import errors
from loyalty.settings import DYNAMODB_CONNECT_TIMEOUT_SECONDS, DYNAMODB_MAX_ATTEMPTS, DYNAMODB_READ_TIMEOUT_SECONDS
from loyalty.store.faults import KINDS, FaultInjector, FaultPlan, FaultPlanError, attach
from loyalty.store.transaction import busy as _busy
from loyalty_local.template import functions


def test_a_plan_reads_its_rules_in_order_and_refuses_what_it_cannot_read():
    plan = FaultPlan.parse("seed=7; dynamodb.TransactWriteItems=throttle:0.1,lost:0.05 ; dynamodb.*=reset:0.2; *=internal:0.01")
    assert plan.seed == 7
    assert plan.faults_for("dynamodb", "TransactWriteItems") == (("throttle", 0.1), ("lost", 0.05))
    assert plan.faults_for("dynamodb", "GetItem") == (("reset", 0.2),)
    assert plan.faults_for("eventbridge", "PutEvents") == (("internal", 0.01),)
    assert FaultPlan.parse("").rules == ()
    for bad in ("dynamodb.*=melt:0.1", "dynamodb.*=throttle:2", "dynamodb.*=throttle:0.7,reset:0.7", "seed=x", "oops"):
        with pytest.raises(FaultPlanError):
            FaultPlan.parse(bad)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), rates=st.dictionaries(st.sampled_from(["throttle", "reset", "lost", "internal"]),
                                                        st.floats(0, 0.24), min_size=1))
def test_draws_are_reproducible_from_the_seed_and_near_their_rates(seed, rates):
    plan = FaultPlan.of(seed, {"dynamodb.*": rates})

    def draws() -> list[str | None]:
        injector = FaultInjector(plan)
        return [injector._draw("dynamodb", "GetItem") for _ in range(2000)]

    first = draws()
    assert first == draws(), "the same seed, the same faults"
    counts = Counter(first)
    for kind, rate in rates.items():
        assert abs(counts[kind] / 2000 - rate) < 0.05 + rate * 0.5  # binomial: loose, never flaky at these sizes


def _client(injector: FaultInjector, attempts: int):
    client = boto3.client("dynamodb", region_name="us-east-1",
                          config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))
    attach(injector, client)
    return client


def test_the_sdk_retries_what_the_injector_throws_and_a_lost_response_was_applied(tables):
    from moto.core.models import botocore_stubber

    injector = FaultInjector(FaultPlan.parse(""), transport=botocore_stubber)
    client = _client(injector, attempts=3)
    injector.script("dynamodb.PutItem", "throttle", "reset")
    client.put_item(TableName="StatsTable", Item={"pk": {"S": "a"}})  # third attempt goes through
    assert injector.calls["dynamodb.PutItem"] == 3
    injector.script("dynamodb.PutItem", "lost", "lost", "lost")
    with pytest.raises(ConnectionClosedError):
        client.put_item(TableName="StatsTable", Item={"pk": {"S": "b"}})
    assert "Item" in client.get_item(TableName="StatsTable", Key={"pk": {"S": "b"}}), "applied though the client never heard"
    injector.script("dynamodb.PutItem", "too_large")
    with pytest.raises(ClientError, match="ValidationException"):
        client.put_item(TableName="StatsTable", Item={"pk": {"S": "c"}})
    assert injector.calls["dynamodb.PutItem"] == 7, "a permanent failure is not retried by the SDK"
    assert "Item" not in client.get_item(TableName="StatsTable", Key={"pk": {"S": "c"}})
    assert set(injector.summary()["dynamodb.PutItem"]) <= set(KINDS)


def _transact_error(code: str, reasons: list[str] | None = None, status: int = 400) -> TransactWriteError:
    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return TransactWriteError("Failed to write transaction items", ClientError(response, "TransactWriteItems"))


@pytest.mark.parametrize("cause", [
    _transact_error("ProvisionedThroughputExceededException"), _transact_error("ThrottlingException"),
    _transact_error("RequestLimitExceeded"), _transact_error("InternalServerError", status=500),
    _transact_error("TransactionCanceledException", ["None", "ThrottlingError"]),
    _transact_error("TransactionCanceledException", ["TransactionConflict", "None"]),
    TransactWriteError("Failed", ConnectionClosedError(endpoint_url="https://dynamodb")),
    TransactWriteError("Failed", ReadTimeoutError(endpoint_url="https://dynamodb")),
])
def test_what_a_retry_can_fix_is_503_with_retry_after(cause):
    error = _busy(cause)
    assert isinstance(error, errors.Busy) and (error.status, error.code) == (503, "TRY_AGAIN")
    assert error.headers == {"Retry-After": "1"}


@pytest.mark.parametrize("cause", [
    _transact_error("ValidationException"), _transact_error("ItemCollectionSizeLimitExceededException"),
    _transact_error("ResourceNotFoundException"), _transact_error("AccessDeniedException"),
    _transact_error("TransactionCanceledException", ["None", "ValidationError"]),
    _transact_error("TransactionCanceledException", ["ThrottlingError", "ItemCollectionSizeLimitExceeded"]),
])
def test_what_no_retry_can_fix_is_500_store_rejected_naming_the_operation(cause):
    error = _busy(cause)
    assert isinstance(error, errors.StoreRejected) and (error.status, error.code) == (500, "STORE_REJECTED")
    assert not error.headers and error.operation == "Failed to write transaction items" and error.cause


@pytest.mark.parametrize(("status", "retry"), [(500, True), (503, True), (499, False)])
def test_any_5xx_is_a_retry_whatever_its_code_and_a_4xx_no_retry_can_fix_is_not(status, retry):
    error = _busy(_transact_error("SomethingNewFromDynamoDB", status=status))
    assert isinstance(error, errors.Busy if retry else errors.StoreRejected)


def test_a_busy_error_tells_the_logs_what_failed():
    assert _busy(_transact_error("ThrottlingException")).cause == "ThrottlingException"
    lost = _busy(TransactWriteError("Failed", ConnectionClosedError(endpoint_url="https://dynamodb")))
    assert lost.cause == "ConnectionClosedError"


def test_an_answer_without_an_error_body_is_still_classified():
    refused = _busy(TransactWriteError("Failed to write transaction items", ClientError(
        {"ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems")))
    assert isinstance(refused, errors.StoreRejected) and (refused.cause, refused.reason) == (None, None)


def test_one_dynamodb_call_at_its_worst_ends_before_the_api_functions_time_out():
    """3 attempts, each at most a connect and a read timeout, and botocore's backoff between them (<= 1 s, 2 s)."""
    worst = DYNAMODB_MAX_ATTEMPTS * (DYNAMODB_CONNECT_TIMEOUT_SECONDS + DYNAMODB_READ_TIMEOUT_SECONDS) + sum(
        2**attempt for attempt in range(DYNAMODB_MAX_ATTEMPTS - 1))
    api = [spec for spec in functions().values() if spec.routes]
    assert api and worst < min(spec.timeout for spec in api)


def test_make_run_passes_a_faults_plan_to_every_function_and_refuses_one_it_cannot_read(monkeypatch, tmp_path):
    from loyalty_local.server import local_environment

    monkeypatch.delenv("FAULTS", raising=False)
    assert "LOCAL_FAULTS" not in local_environment(tmp_path / "events.jsonl", tmp_path / "clock.json"), "off by default"
    monkeypatch.setenv("FAULTS", "seed=3;dynamodb.*=throttle:0.1")
    assert local_environment(tmp_path / "events.jsonl", tmp_path / "clock.json")["LOCAL_FAULTS"] == "seed=3;dynamodb.*=throttle:0.1"
    monkeypatch.setenv("FAULTS", "dynamodb.*=melt:0.1")
    with pytest.raises(FaultPlanError, match="melt"):
        local_environment(tmp_path / "events.jsonl", tmp_path / "clock.json")


def test_over_http_a_lost_response_reaches_the_server_before_the_client_hears_the_error():
    """As `make run` uses it, with no transport: the injector sends a lost request itself, then fails the call."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = []

    class DynamoDB(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.send_header("content-type", "application/x-amz-json-1.0")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), DynamoDB)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        injector = FaultInjector(FaultPlan.parse(""))
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{server.server_port}",
                              aws_access_key_id="x", aws_secret_access_key="x",
                              config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        attach(injector, client)
        client.put_item(TableName="StatsTable", Item={"pk": {"S": "a"}})  # no fault: botocore sends it
        injector.script("dynamodb.PutItem", "lost")
        with pytest.raises(ConnectionClosedError):
            client.put_item(TableName="StatsTable", Item={"pk": {"S": "b"}})
        injector.script("dynamodb.PutItem", "reset")
        with pytest.raises(ConnectionClosedError):
            client.put_item(TableName="StatsTable", Item={"pk": {"S": "c"}})
    finally:
        server.shutdown()
    assert [request["Item"]["pk"]["S"] for request in received] == ["a", "b"], "lost is applied; reset is not"
