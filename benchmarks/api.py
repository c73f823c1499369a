"""API benchmark: DynamoDB requests per call and warm overhead, in one run (cold start: benchmarks.cold_start).

- Requests per call are counted with each handler's store request hook (`Store.on_request`, through the handler's `parts()`).
- Warm overhead: every DynamoDB call a handler makes is recorded (operation and parameters) and
  replayed right after it with a plain boto3 client against a twin set of tables that went
  through the same history, so the direct calls do exactly the same work under the same load.
  Ratio = handler time / direct time.
Both sides run against moto in server mode on loopback, in this one process run, made atomic as `make run`
makes it (loyalty_local.moto_atomic): moto's own transactions deep-copy every table they touch, streams included,
so their time grew with the run's history and hid the handlers' overhead.
"""

from __future__ import annotations

import copy
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from benchmarks.environment import LambdaContext, api_event, load_function, use_environment, verdict

CALLS_PER_ROUTE = int(os.environ.get("BENCH_CALLS", "60"))
TARGET_REQUESTS = {"enroll": 2, "earn": 2, "earn replay": 2, "return": 2, "redeem": 2, "redeem replay": 2,
                   "member view": 1, "member view (me)": 1, "activity page": 2, "activity page (me)": 2,
                   "adjustment": 2, "block": 2, "unblock": 2, "lookup by e-mail": 2, "voucher check": 2, "voucher use": 2,
                   "cancel redemption": 2, "cancel replay": 2, "profile update": 2, "profile update (me)": 3,
                   "catalog create": 2,
                   "catalog replace": 2, "catalog stock": 2, "catalog retire": 2}
WARM_TARGET = 1.5
TWIN_PREFIX = "Twin"



def proving(email: str, event: dict) -> dict:
    """A member token's event with the verified e-mail claims (the pre-token trigger's): it may enroll or move to `email`."""
    event["requestContext"]["authorizer"]["jwt"]["claims"].update(email=email, email_verified="true")
    return event

def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Recorder:
    """Records each DynamoDB request a store makes (its operation and parameters)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    @property
    def sends(self) -> int:
        return len(self.calls)

    def __call__(self, operation: str, params: dict) -> None:
        self.calls.append((operation, copy.deepcopy(params)))


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



@contextmanager
def moto_with_twins() -> Iterator[str]:
    """A moto server with the template's tables and their twins (TWIN_PREFIX), for the direct replays; yields its
    endpoint, also set as AWS_ENDPOINT_URL_DYNAMODB. Transactions are atomic as `make run` makes them: a
    transaction costs what its items cost, not a deep copy of every table it touches (whose time grows with the
    table's history and would swamp the handlers' own overhead)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from loyalty_local.moto_atomic import make_dynamodb_atomic
    from loyalty_local.template import load_template, table_definitions

    make_dynamodb_atomic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    try:
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        for definition in table_definitions(load_template()).values():
            client.create_table(**definition)
            client.create_table(**{**definition, "TableName": TWIN_PREFIX + definition["TableName"]})
        yield endpoint
    finally:
        server.stop()


def warm_benchmark() -> list[dict]:
    import boto3

    use_environment()
    with moto_with_twins() as endpoint:
        from loyalty import seed
        recorder = Recorder()
        twin_client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        seed.seed_demo(os.environ["CATALOG_TABLE"], "us-east-1", endpoint)
        handlers = {}
        for name in ("enroll", "earn", "redeem", "report"):
            function = load_function(name, instance=99)
            function.parts().store.on_request(recorder)
            if name == "report":  # GET /v1/program's campaigns come through their own store and cache
                function.parts().published.on_request(recorder)
            handlers[name] = function.lambda_handler
        catalog_function = load_function("catalog", instance=99)
        catalog_function.catalog().rewards.on_request(recorder)
        handlers["catalog"] = catalog_function.lambda_handler
        context = LambdaContext()
        results: dict[str, dict] = {}

        def invoke(route: str, function: str, event: dict, expect: int) -> dict:
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
            return json.loads(response["body"]) if response.get("body") else {}

        def scenario(route: str, function: str, make_event: Callable[[int], dict], expect: int) -> None:
            invoke(f"warm-up {route}", function, make_event(-1), expect)
            for index in range(CALLS_PER_ROUTE):
                invoke(route, function, make_event(index), expect)

        scenario("enroll", "enroll", lambda i: api_event("POST", "/v1/members", body={"email": f"bench{i}@example.com"}), 201)
        app_sub = "bench-app-user"
        enrolled = invoke("setup", "enroll", proving("app@example.com", api_event(
            "POST", "/v1/members", body={"email": "app@example.com"}, scopes="loyalty/member", sub=app_sub)), 201)
        member_id = enrolled["member_id"]
        earn_body = lambda i: {"transaction_id": f"t{i}", "amount_minor": 5000, "currency": "EUR"}  # noqa: E731
        scenario("earn", "earn", lambda i: api_event("POST", f"/v1/members/{member_id}/earn", body=earn_body(i)), 201)
        scenario("earn replay", "earn", lambda i: api_event("POST", f"/v1/members/{member_id}/earn", body=earn_body(max(i, 0))), 200)
        scenario("return", "earn", lambda i: api_event("POST", f"/v1/members/{member_id}/returns",
                                                        body={"transaction_id": f"t{max(i, 0)}", "return_id": f"r{i}", "amount_minor": 10}), 201)
        redeem_event = lambda i: api_event("POST", f"/v1/members/{member_id}/redemptions", body={"points": 5}, headers={"Idempotency-Key": f"k{i}"})  # noqa: E731
        scenario("redeem", "redeem", redeem_event, 201)
        scenario("redeem replay", "redeem", lambda i: redeem_event(max(i, 0)), 200)
        scenario("member view", "report", lambda i: api_event("GET", f"/v1/members/{member_id}"), 200)
        scenario("member view (me)", "report", lambda i: api_event("GET", "/v1/members/me", scopes="loyalty/member", sub=app_sub), 200)
        scenario("activity page", "report", lambda i: api_event("GET", f"/v1/members/{member_id}/activity", query={"limit": "20"}), 200)
        scenario("activity page (me)", "report", lambda i: api_event("GET", "/v1/members/me/activity", scopes="loyalty/member", sub=app_sub), 200)
        scenario("rewards (cached)", "redeem", lambda i: api_event("GET", "/v1/rewards"), 200)
        scenario("program", "report", lambda i: api_event("GET", "/v1/program"), 200)
        # The back office (issue 12): an admin's adjustments, blocking and unblocking, a till's lookup by e-mail.
        admin = {"scopes": "loyalty/admin", "sub": "bench-admin"}
        scenario("adjustment", "earn", lambda i: api_event("POST", f"/v1/members/{member_id}/adjustments", **admin,
                                                          body={"points": 10, "reason": "goodwill"},
                                                          headers={"Idempotency-Key": f"a{i}"}), 201)
        for index in range(-1, CALLS_PER_ROUTE):  # each block finds the member active, each unblock finds it blocked
            prefix = "warm-up " if index < 0 else ""
            invoke(f"{prefix}block", "enroll", api_event("POST", f"/v1/members/{member_id}/block", **admin,
                                                         body={"reason": "suspected fraud"}), 200)
            invoke(f"{prefix}unblock", "enroll", api_event("POST", f"/v1/members/{member_id}/unblock", **admin), 200)
        scenario("lookup by e-mail", "report",
                 lambda i: api_event("GET", "/v1/members", query={"email": f"bench{max(i, 0)}@example.com"}), 200)
        # Vouchers and cancels, each on a redemption of its own (made first, not measured).
        redemptions = [invoke("setup", "redeem", redeem_event(f"setup{index}"), 201) for index in range(2 * CALLS_PER_ROUTE + 2)]
        to_use, to_cancel = redemptions[:CALLS_PER_ROUTE + 1], redemptions[CALLS_PER_ROUTE + 1:]
        scenario("voucher check", "redeem", lambda i: api_event("GET", f"/v1/vouchers/{to_use[i + 1]['voucher_code']}"), 200)
        scenario("voucher use", "redeem", lambda i: api_event("POST", f"/v1/vouchers/{to_use[i + 1]['voucher_code']}/use",
                                                               body={"store_id": "store-1"}), 200)
        cancel_event = lambda i: api_event(  # noqa: E731
            "POST", f"/v1/members/{member_id}/redemptions/{to_cancel[i + 1]['redemption_id']}/cancel", **admin)
        scenario("cancel redemption", "redeem", cancel_event, 200)
        scenario("cancel replay", "redeem", lambda i: cancel_event(max(i, 0)), 200)
        # Every update changes the e-mail (its uniqueness marker moves) and the consent (a record is kept): the most work.
        # A member token's "me" is found through its SUB# marker first: one read more than naming the member's id.
        for route, path, offset in (("profile update", member_id, 0), ("profile update (me)", "me", 1000)):
            scenario(route, "enroll", lambda i, path=path, offset=offset: proving(f"app{i + offset + 1}@example.com", api_event(
                "PATCH", f"/v1/members/{path}", scopes="loyalty/member", sub=app_sub,
                body={"email": f"app{i + offset + 1}@example.com", "marketing_opt_in": i % 2 == 0})), 200)
        reward = lambda i: {"name": f"Bench reward {i}", "description": "-", "kind": "perk", "points": 10,  # noqa: E731
                            "value_minor": 0}
        scenario("catalog create", "catalog", lambda i: api_event("POST", "/v1/rewards", **admin,
                                                                  body={**reward(i), "reward_id": f"bench-{i + 1}", "stock": 5}), 201)
        scenario("catalog replace", "catalog", lambda i: api_event("PUT", f"/v1/rewards/bench-{i + 1}", **admin,
                                                                   body={**reward(i), "points": 20}), 200)
        scenario("catalog stock", "catalog", lambda i: api_event("POST", f"/v1/rewards/bench-{i + 1}/stock", **admin,
                                                                 body={"delta": -1}), 200)
        scenario("catalog retire", "catalog", lambda i: api_event("DELETE", f"/v1/rewards/bench-{i + 1}", **admin), 200)

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



def main() -> int:
    rows = warm_benchmark()
    print(f"Warm requests, {CALLS_PER_ROUTE} calls per route (moto server on loopback); medians")
    print(f"{'route':<20} {'DDB req/call':>12} {'target':>7} {'handler ms':>11} {'direct ms':>10} {'ratio':>6} {'target':>7}")
    for row in rows:
        target = f"<= {row['target']}" if row["target"] else "-"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
        direct = f"{row['direct_ms']:.2f}" if row["direct_ms"] else "-"
        met = ("met" if row["ratio"] <= WARM_TARGET else "MISSED") if row["ratio"] else "-"
        print(f"{row['route']:<20} {row['requests']:>12} {target:>7} {row['handler_ms']:>11.2f} {direct:>10} {ratio:>6} {met:>7}")
    missed = [f"{row['route']}: {row['requests']} DynamoDB requests a call (target {row['target']})"
              for row in rows if row["target"] and row["requests"] > row["target"]]
    missed += [f"{row['route']}: warm overhead {row['ratio']:.2f}x a direct boto3 replay (target {WARM_TARGET})"
               for row in rows if row["ratio"] and row["ratio"] > WARM_TARGET]
    return verdict(missed)


if __name__ == "__main__":
    raise SystemExit(main())
