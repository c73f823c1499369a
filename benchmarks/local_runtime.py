"""Local runtime benchmark: start-up time and the overhead each request pays for the emulated gateway.

Start-up: from launching `python -m loyalty_local serve` until /openapi.json answers.
Overhead: median GET /v1/program over HTTP (authorizer, routing, event, worker process) against
the same event given to the same handler in-process, both warm, in this one run.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    import requests

    sys.path[:0] = [str(ROOT / "layers" / "loyalty"), str(ROOT)]
    from loyalty_local.apigw import make_token
    from tests.conftest import LambdaContext, http_event, load_function

    ports = {"API_PORT": _free_port(), "LAMBDA_PORT": _free_port(), "DYNAMODB_PORT": _free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "LOCAL_JWT_SECRET": "bench-secret-bench-secret-bench-secret"}
    env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    api = f"http://127.0.0.1:{ports['API_PORT']}"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "loyalty_local", "serve"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if requests.get(f"{api}/openapi.json", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
            if time.perf_counter() - started > 60:
                raise RuntimeError("the local runtime did not start within 60 s")
        startup = time.perf_counter() - started
        headers = {"authorization": f"Bearer {make_token('pos', env['LOCAL_JWT_SECRET'])}"}
        session = requests.Session()
        session.get(f"{api}/v1/program", headers=headers, timeout=30)  # the worker's cold start
        over_http = []
        for _ in range(REQUESTS):
            began = time.perf_counter()
            assert session.get(f"{api}/v1/program", headers=headers, timeout=30).status_code == 200
            over_http.append(time.perf_counter() - began)
    finally:
        process.terminate()
        process.wait(timeout=20)
    handler = load_function("report", instance=7).lambda_handler
    event, context = http_event("GET", "/v1/program"), LambdaContext()
    handler(event, context)
    in_process = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        handler(event, context)
        in_process.append(time.perf_counter() - began)
    http_ms, direct_ms = statistics.median(over_http) * 1000, statistics.median(in_process) * 1000
    print(f"start-up until serving: {startup:.2f} s (moto, tables, demo catalog, OpenAPI; workers start on first use)")
    print(f"GET /v1/program, median of {REQUESTS}: over HTTP {http_ms:.2f} ms, handler in-process {direct_ms:.2f} ms: "
          f"the runtime adds {http_ms - direct_ms:.2f} ms per request ({http_ms / direct_ms:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
