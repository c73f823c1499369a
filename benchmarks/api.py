"""API benchmark: DynamoDB requests per call, warm overhead and cold start, in one run.

- Requests per call are counted with a botocore `before-send` hook on the clients pynamodb uses.
- Warm overhead: every DynamoDB call a handler makes is recorded (operation and parameters) and
  replayed right after it with a plain boto3 client against a twin set of tables that went
  through the same history, so the direct calls do exactly the same work under the same load.
  Ratio = handler time / direct time.
- Cold start: a fresh interpreter imports a function and initialises it up to its first
  DynamoDB call, against `import boto3; boto3.client("dynamodb")`, bytecode compiled first.
Both sides run against moto in server mode on loopback, in this one process run.
"""

from __future__ import annotations

import compileall
import copy
import os
import re
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "loyalty"
CALLS_PER_ROUTE = int(os.environ.get("BENCH_CALLS", "60"))
COLD_RUNS = 7
TARGET_REQUESTS = {"enroll": 2, "earn": 2, "earn replay": 2, "return": 2, "redeem": 2, "redeem replay": 2,
                   "member view": 1, "member view (me)": 2, "activity page": 2, "activity page (me)": 2}
WARM_TARGET, COLD_TARGET = 1.5, 1.3
TWIN_PREFIX = "Twin"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Recorder:
    """Counts sends and records each DynamoDB call pynamodb makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.sends = 0

    def install(self, models) -> None:
        for model in models:
            events = model._get_connection().connection.client.meta.events
            events.register("provide-client-params.dynamodb.*", self._on_params)
            events.register("before-send.dynamodb.*", self._on_send)

    def _on_params(self, params, model, **_):
        self.calls.append((model.name, copy.deepcopy(params)))

    def _on_send(self, **_):
        self.sends += 1


def _twin(params: dict) -> dict:
    """The same call aimed at the twin tables."""
    params = copy.deepcopy(params)

    def walk(node):
        if isinstance(node, dict):
            for key, value in list(node.items()):
                if key == "TableName":
                    node[key] = TWIN_PREFIX + value
                elif key == "RequestItems":
                    node[key] = {TWIN_PREFIX + table: walk(items) for table, items in value.items()}
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        return node

    return walk(params)


def _replay(client, calls) -> float:
    prepared = [(getattr(client, _snake(operation)), _twin(params)) for operation, params in calls]
    started = time.perf_counter()
    for method, params in prepared:
        try:
            method(**params)
        except client.exceptions.ClientError:
            pass  # the handler met the same condition failure: same work
    return time.perf_counter() - started


def warm_benchmark() -> list[dict]:
    import boto3
    from moto.server import ThreadedMotoServer

    sys.path[:0] = [str(LAYER), str(ROOT)]
    from tests.conftest import LambdaContext, http_event, load_function  # sets a test environment: import first

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update({"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_NAMESPACE": "Bench",
                       "POWERTOOLS_METRICS_DISABLED": "true"})
    try:
        from loyalty_local.template import load_template, table_definitions

        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        for definition in table_definitions(load_template()).values():
            client.create_table(**definition)
            client.create_table(**{**definition, "TableName": TWIN_PREFIX + definition["TableName"]})

        from loyalty import seed
        from loyalty.domain.model import member_id_for_sub
        from loyalty.store.models import CounterModel, EntryModel, MarkerModel, MemberModel, RewardModel

        recorder = Recorder()
        recorder.install([MemberModel, MarkerModel, EntryModel, RewardModel, CounterModel])
        twin_client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        seed.seed_demo()
        handlers = {name: load_function(name, instance=99).lambda_handler for name in ("enroll", "earn", "redeem", "report")}
        context = LambdaContext()
        results: dict[str, dict] = {}

        def invoke(route: str, function: str, event: dict, expect: int) -> None:
            first_call, sends_before = len(recorder.calls), recorder.sends
            started = time.perf_counter()
            response = handlers[function](event, context)
            elapsed = time.perf_counter() - started
            assert response["statusCode"] == expect, (route, response)
            # The same calls at once on the twin tables: same history, same machine load.
            direct = _replay(twin_client, recorder.calls[first_call:])
            result = results.setdefault(route, {"times": [], "requests": [], "direct": []})
            result["times"].append(elapsed)
            result["requests"].append(recorder.sends - sends_before)
            result["direct"].append(direct)

        def scenario(route: str, function: str, make_event: Callable[[int], dict], expect: int) -> None:
            invoke(f"warm-up {route}", function, make_event(-1), expect)
            for index in range(CALLS_PER_ROUTE):
                invoke(route, function, make_event(index), expect)

        scenario("enroll", "enroll", lambda i: http_event("POST", "/v1/members", body={"email": f"bench{i}@example.com"}), 201)
        app_sub = "bench-app-user"
        invoke("setup", "enroll", http_event("POST", "/v1/members", body={"email": "app@example.com"}, scopes="loyalty/member", sub=app_sub), 201)
        member_id = member_id_for_sub(app_sub)
        earn_body = lambda i: {"transaction_id": f"t{i}", "amount_minor": 5000, "currency": "EUR"}  # noqa: E731
        scenario("earn", "earn", lambda i: http_event("POST", f"/v1/members/{member_id}/earn", body=earn_body(i)), 201)
        scenario("earn replay", "earn", lambda i: http_event("POST", f"/v1/members/{member_id}/earn", body=earn_body(max(i, 0))), 200)
        scenario("return", "earn", lambda i: http_event("POST", f"/v1/members/{member_id}/returns",
                                                        body={"transaction_id": f"t{max(i, 0)}", "return_id": f"r{i}", "amount_minor": 10}), 201)
        redeem_event = lambda i: http_event("POST", f"/v1/members/{member_id}/redemptions", body={"points": 5}, headers={"Idempotency-Key": f"k{i}"})  # noqa: E731
        scenario("redeem", "redeem", redeem_event, 201)
        scenario("redeem replay", "redeem", lambda i: redeem_event(max(i, 0)), 200)
        scenario("member view", "report", lambda i: http_event("GET", f"/v1/members/{member_id}"), 200)
        scenario("member view (me)", "report", lambda i: http_event("GET", "/v1/members/me", scopes="loyalty/member", sub=app_sub), 200)
        scenario("activity page", "report", lambda i: http_event("GET", f"/v1/members/{member_id}/activity", query={"limit": "20"}), 200)
        scenario("activity page (me)", "report", lambda i: http_event("GET", "/v1/members/me/activity", scopes="loyalty/member", sub=app_sub), 200)
        scenario("rewards (cached)", "redeem", lambda i: http_event("GET", "/v1/rewards"), 200)
        scenario("program", "report", lambda i: http_event("GET", "/v1/program"), 200)

        rows = []
        for route, result in results.items():
            if route.startswith("warm-up") or route == "setup":
                continue
            handler = statistics.median(result["times"])
            # A route that makes no DynamoDB call has nothing to compare with.
            baseline = statistics.median(result["direct"]) if max(result["requests"]) else None
            rows.append({
                "route": route, "requests": max(result["requests"]), "target": TARGET_REQUESTS.get(route),
                "handler_ms": handler * 1000, "direct_ms": baseline * 1000 if baseline else None,
                "ratio": handler / baseline if baseline else None,
            })
        return rows
    finally:
        server.stop()


COLD_FUNCTION = """
import sys, time
started = time.perf_counter()
sys.path[:0] = [{layer!r}, {code!r}]
import app
from loyalty.program import get_program
from loyalty.store.models import MemberModel
get_program()
MemberModel._get_connection().connection.client
print(time.perf_counter() - started)
"""
COLD_BOTO3 = """
import time
started = time.perf_counter()
import boto3
boto3.client("dynamodb")
print(time.perf_counter() - started)
"""


def _cold(code: str) -> float:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "Bench"}
    env.pop("PYTHONPATH", None)
    samples = []
    for _ in range(COLD_RUNS):
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd="/")
        samples.append(float(output.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def cold_benchmark() -> list[dict]:
    for path in (sysconfig.get_paths()["purelib"], LAYER, ROOT / "functions"):
        compileall.compile_dir(str(path), quiet=1, workers=0)
    baseline = _cold(COLD_BOTO3)
    rows = []
    for name in ("enroll", "earn", "redeem", "report"):
        seconds = _cold(COLD_FUNCTION.format(layer=str(LAYER), code=str(ROOT / "functions" / name)))
        rows.append({"function": name, "ms": seconds * 1000, "boto3_ms": baseline * 1000, "ratio": seconds / baseline})
    return rows


def main() -> int:
    rows = warm_benchmark()
    print(f"Warm requests, {CALLS_PER_ROUTE} calls per route (moto server on loopback); medians")
    print(f"{'route':<20} {'DDB req/call':>12} {'target':>7} {'handler ms':>11} {'direct ms':>10} {'ratio':>6} {'target':>7}")
    for row in rows:
        target = f"<= {row['target']}" if row["target"] else "-"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
        direct = f"{row['direct_ms']:.2f}" if row["direct_ms"] else "-"
        verdict = ("met" if row["ratio"] <= WARM_TARGET else "MISSED") if row["ratio"] else "-"
        print(f"{row['route']:<20} {row['requests']:>12} {target:>7} {row['handler_ms']:>11.2f} {direct:>10} {ratio:>6} {verdict:>7}")
    cold = cold_benchmark()
    print(f"\nCold start: import and initialise up to the first DynamoDB call; median of {COLD_RUNS} fresh interpreters")
    print(f"{'function':<10} {'ms':>8} {'boto3 ms':>9} {'ratio':>6} {'target':>7}")
    for row in cold:
        verdict = "met" if row["ratio"] <= COLD_TARGET else "MISSED"
        print(f"{row['function']:<10} {row['ms']:>8.1f} {row['boto3_ms']:>9.1f} {row['ratio']:>6.2f} {verdict:>7}")
    over = [row["route"] for row in rows if row["target"] and row["requests"] > row["target"]]
    if over:
        print(f"\nDynamoDB request targets missed: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
