"""Local runtime benchmark: how long `make run` takes to be ready, and what each request pays for it.

- Start-up: from launching `make run` (installed already) until GET /openapi.json answers, median of
  a few starts; each is stopped as Ctrl-C would (SIGINT to its process group). Also the first request
  to a function, which starts its worker process (its cold start).
- Per-request overhead, for a route without DynamoDB (GET /v1/program) and one with a read (the
  member view): the request over HTTP, with a lean keep-alive client (http.client) so the figure is
  the runtime's (authorizer, routing, the event, the worker's pipe, the response), against the same
  handler called in-process with the same event, in a process with its worker's environment and the
  same moto. Both warm; medians of many calls.

Its figures are informative: the local runtime is a developer's tool with no target, so this returns 0
(met) whatever it measures and fails only by crashing.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTS = 3
REQUESTS = int(os.environ.get("BENCH_CALLS", "300"))
START_TIMEOUT = 60
ROUTES = ("/v1/program", "/v1/members/{member_id}")
SECRET = "bench-secret-bench-secret-bench-secret"

# Runs in a fresh interpreter with the worker's environment: the handler alone, timed.
IN_PROCESS_TIMER = """
import json, os, sys, time
from loyalty_local.worker import LambdaContext, load_handler
handler = load_handler(os.environ["LOCAL_HANDLER"])
raw, calls = sys.stdin.read(), int(sys.argv[1])
def context():
    return LambdaContext(os.environ["AWS_LAMBDA_FUNCTION_NAME"], 512, "arn", "bench", time.monotonic() + 10)
handler(json.loads(raw), context())
durations = []
for _ in range(calls):
    event, ctx = json.loads(raw), context()
    began = time.perf_counter()
    assert handler(event, ctx)["statusCode"] == 200
    durations.append(time.perf_counter() - began)
print(json.dumps(durations))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Started:
    """`make run` on free ports, in its own process group."""

    def __init__(self, scratch: Path) -> None:
        self.ports = {"API_PORT": _free_port(), "LAMBDA_PORT": _free_port(), "DYNAMODB_PORT": _free_port()}
        env = {**os.environ, **{name: str(port) for name, port in self.ports.items()}, "LOCAL_JWT_SECRET": SECRET,
               "LOCAL_EVENTS_FILE": str(scratch / "events.jsonl")}  # not the repository's, which `make run` uses
        env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        self.api = f"http://127.0.0.1:{self.ports['API_PORT']}"
        self.dynamodb = f"http://127.0.0.1:{self.ports['DYNAMODB_PORT']}"
        began = time.perf_counter()
        self.process = subprocess.Popen(["make", "--no-print-directory", "-s", "run"], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - began

    def _wait_until_ready(self) -> None:
        import requests

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"`make run` exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.api}/openapi.json", timeout=1).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or listening but still starting
                time.sleep(0.02)
        raise RuntimeError(f"`make run` was not ready within {START_TIMEOUT} s")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C does
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


class Client:
    """A store terminal on one keep-alive connection."""

    def __init__(self, started: Started) -> None:
        from loyalty_local.apigw import make_token

        self.connection = http.client.HTTPConnection("127.0.0.1", started.ports["API_PORT"], timeout=30)
        self.headers = {"authorization": f"Bearer {make_token('pos', SECRET)}", "content-type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[float, dict]:
        began = time.perf_counter()
        self.connection.request(method, path, body=json.dumps(body) if body else None, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - began
        assert response.status in (200, 201), data
        return elapsed, json.loads(data)

    def warm_gets(self, path: str) -> tuple[float, list[float]]:
        """The first call (a cold start if its worker was not up yet), then the warm ones."""
        first = self.call("GET", path)[0]
        self.call("GET", path)  # settle
        return first, [self.call("GET", path)[0] for _ in range(REQUESTS)]


def _in_process(path: str, dynamodb_endpoint: str, scratch: Path) -> list[float]:
    """The route's handler with the same event, environment and DynamoDB as its worker, called directly."""
    from loyalty_local import apigw
    from loyalty_local.functions import Worker
    from loyalty_local.server import local_environment
    from loyalty_local.template import functions

    match = apigw.Router(functions()).match("GET", path)
    request = apigw.Request("GET", path, "", {"host": "127.0.0.1", "user-agent": "bench"}, b"", "127.0.0.1", 3000)
    authorization = apigw.authorize({"authorization": apigw.make_token("pos", SECRET)}, SECRET, match.route)
    event = apigw.http_event(match, request, authorization, "bench")
    aws = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}
    local = local_environment(scratch / "events.jsonl", scratch / "clock.json")
    env = Worker(match.function, {**aws, **local}, print).environment()
    env["PYTHONPATH"] += os.pathsep + str(ROOT)  # for loyalty_local.worker's handler loading
    result = subprocess.run([sys.executable, "-c", IN_PROCESS_TIMER, str(REQUESTS)], input=json.dumps(event),
                            cwd=match.function.code_dir, env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> int:
    sys.path[:0] = [str(ROOT / "layers" / "loyalty"), str(ROOT)]
    with tempfile.TemporaryDirectory() as scratch:
        return _run(Path(scratch))


def _run(scratch: Path) -> int:
    started = Started(scratch)
    try:
        client = Client(started)
        member_id = client.call("POST", "/v1/members", {"email": "bench@example.com"})[1]["member_id"]
        measured = []
        for route in ROUTES:
            path = route.format(member_id=member_id)
            first, over_http = client.warm_gets(path)
            measured.append((route, first, over_http, _in_process(path, started.dynamodb, scratch)))
    finally:
        started.stop()
    startups = [started.startup_seconds]
    for _ in range(STARTS - 1):
        again = Started(scratch)
        again.stop()
        startups.append(again.startup_seconds)
    print(f"`make run` until ready: median {statistics.median(startups):.2f} s of {STARTS} "
          f"({', '.join(f'{s:.2f}' for s in startups)} s: moto, tables, demo catalog, OpenAPI)")
    print(f"first request to a function (its worker's cold start), GET {ROUTES[0]}: {_ms(measured[0][1])}")
    for route, _, over_http, direct in measured:
        http_median, direct_median = statistics.median(over_http), statistics.median(direct)
        print(f"GET {route}, median of {REQUESTS} warm: over HTTP {_ms(http_median)} "
              f"(p90 {_ms(statistics.quantiles(over_http, n=10)[-1])}), handler in-process {_ms(direct_median)}: "
              f"the runtime adds {_ms(http_median - direct_median)} ({http_median / direct_median:.1f}x)")
    print("\ninformative only: the local runtime has no targets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
