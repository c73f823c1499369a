"""Cold start: each API function against plain boto3 and a peer handler, in the same run.

A sample is a fresh interpreter (bytecode compiled beforehand: this machine sets
PYTHONDONTWRITEBYTECODE) that imports the handler module and answers its first request, which
makes one DynamoDB call to a stub endpoint on loopback answering `{}` (no such member, or a
transaction that succeeded). The baseline does the same with `import boto3;
boto3.client("dynamodb")` and one GetItem; the peer is benchmarks/peer/app.py, a cookbook-style
powertools + pydantic + boto3 handler doing one GetItem; `peer-stack` (benchmarks/peer_stack/app.py,
not held to a target) is that peer on the stack this project is built on, a pynamodb Model for its
GetItem and powertools' Tracer, so the distance from it to our functions is what our own code costs.
Times are the interpreter's CPU time
(time.process_time), which a loaded machine inflates far less than wall time; Lambda's init is CPU
bound. Samples are interleaved, so load moves all of them alike; the figure is the median.

Then `python -X importtime` shows what each function imports beyond the baseline: the heaviest
modules by their own time, and which of our modules pulls in each group.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.environment import FUNCTION_ENVIRONMENT, FUNCTIONS, LAYER, ROOT, api_event, verdict

RUNS = int(os.environ.get("BENCH_COLD_RUNS", "9"))
IMPORTTIME_RUNS = 3
TARGET = 1.0  # every API function: at most the peer's cold start, measured in the same run
PEER = ROOT / "benchmarks" / "peer"
PEER_STACK = ROOT / "benchmarks" / "peer_stack"

CHILD = """
import json, sys, time
event = json.loads(sys.stdin.read())
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "cold", 512, "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold"
started = time.process_time()
sys.path[:0] = {paths!r}
{body}
print(json.dumps({{"init": initialised - started, "first": answered - started, "status": status}}))
"""
HANDLER = """
import app
initialised = time.process_time()
status = app.lambda_handler(event, Context())["statusCode"]
answered = time.process_time()
"""
BOTO3 = """
import boto3
client = boto3.client("dynamodb")
initialised = time.process_time()
client.get_item(TableName="MembersTable", Key={"pk": {"S": "M#cold"}})
answered = time.process_time()
status = 200
"""


@dataclass
class Target:
    name: str
    code: str
    event: dict
    paths: list[str]
    env: dict[str, str] = field(default_factory=dict)  # over the deployed environment
    held_to_target: bool = True
    samples: list[dict] = field(default_factory=list)
    imports: dict[str, "Module"] = field(default_factory=dict)
    steps: list[list[float]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(sample[key] for sample in self.samples)


def targets() -> list[Target]:
    member = "/v1/members/m-cold"
    events = {
        "enroll": api_event("POST", "/v1/members", body={"email": "cold@example.com"}),
        "earn": api_event("POST", f"{member}/earn", body={"transaction_id": "t1", "amount_minor": 500, "currency": "EUR"}),
        "redeem": api_event("POST", f"{member}/redemptions", body={"points": 5}, headers={"Idempotency-Key": "k1"}),
        "report": api_event("GET", member),
    }
    found = [Target("boto3", BOTO3, {}, []), Target("peer", HANDLER, api_event("GET", member), [str(PEER)]),
             Target("peer-stack", HANDLER, api_event("GET", member), [str(PEER_STACK)], held_to_target=False)]
    ours = [Target(name, HANDLER, event, [str(LAYER), str(FUNCTIONS / name)]) for name, event in events.items()]
    # Not held to the target: the template's XRayTracer "false", to show what the Tracer costs.
    untraced = Target("enroll-xray", HANDLER, events["enroll"], [str(LAYER), str(FUNCTIONS / "enroll")],
                      env={"POWERTOOLS_TRACE_DISABLED": "true"}, held_to_target=False)
    return found + ours + [untraced]


class _Stub(BaseHTTPRequestHandler):
    """DynamoDB that has nothing and accepts everything."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        operation = self.headers.get("x-amz-target", "").rpartition(".")[2]
        answer = {
            "TransactGetItems": {"Responses": [{} for _ in request.get("TransactItems", [])]},
            "BatchGetItem": {"Responses": {}, "UnprocessedKeys": {}},
            "Query": {"Items": [], "Count": 0, "ScannedCount": 0},
        }.get(operation, {})
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_) -> None:
        pass


def _environment(endpoint: str) -> dict[str, str]:
    # As deployed (template.yaml's variables), but the DynamoDB endpoint.
    return {
        "PATH": os.environ.get("PATH", ""), "AWS_ACCESS_KEY_ID": "cold", "AWS_SECRET_ACCESS_KEY": "cold",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        # The same tables as every other benchmark: a function that reads one more fails its cold start otherwise.
        **{name: value for name, value in FUNCTION_ENVIRONMENT.items() if name.endswith("_TABLE")},
        "EMAIL_HASH_KEY": "cold-email-hash-key-0123456789",
        "POWERTOOLS_METRICS_NAMESPACE": "Loyalty", "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_SERVICE_NAME": "cold",
        "AWS_LAMBDA_FUNCTION_NAME": "cold",  # as in Lambda: a handler composes at import, so its init counts it
        "LAMBDA_TASK_ROOT": "/var/task",  # as in Lambda, where powertools' Tracer traces
        "POWERTOOLS_TRACE_DISABLED": "false",  # the template's default (XRayTracer "true")
        # A sampled invocation's trace header, as Lambda sets it; the segments go to a daemon address nobody reads.
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    }


def _run(target: Target, env: dict[str, str], *flags: str, code: str | None = None) -> subprocess.CompletedProcess:
    code = code or CHILD.format(paths=target.paths, body=target.code)
    result = subprocess.run([sys.executable, *flags, "-c", code], input=json.dumps(target.event), capture_output=True,
                            text=True, env={**env, **target.env}, cwd="/")
    if result.returncode != 0:
        raise RuntimeError(f"{target.name} failed its cold start:\n{result.stderr[-3000:]}")
    return result


# Where a function's cold start goes: the same imports in layers, each step's CPU time given the ones before,
# then the function's own module and its first answer. A step whose modules do not exist costs nothing.
STEPS = [
    ("botocore (what the store's client needs)", ["botocore.session", "botocore.client"]),
    ("powertools resolver, Logger, Metrics", ["aws_lambda_powertools.event_handler", "aws_lambda_powertools.logging",
                                               "aws_lambda_powertools.metrics"]),
    ("pydantic, and its first model", ["pydantic"]),
    ("powertools request validation (OpenAPI)", ["aws_lambda_powertools.event_handler.middlewares.openapi_validation",
                                                  "aws_lambda_powertools.event_handler.openapi.params"]),
    ("loyalty.program (the Program model)", ["loyalty.program"]),
    ("loyalty.domain", ["loyalty.domain.ledger", "loyalty.domain.stats", "loyalty.domain.access"]),
    ("pynamodb", ["pynamodb.models", "pynamodb.transactions"]),
    ("loyalty.store, loyalty.core", ["loyalty.store.ledger", "loyalty.core.ledger", "loyalty.core.directory"]),
    ("loyalty.api (shared fields, resolver)", ["loyalty.api.fields", "loyalty.api.resolver"]),
]
WATERFALL = """
import importlib, json, sys, time
event = json.loads(sys.stdin.read())
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "cold", 512, "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold"
sys.path[:0] = {paths!r}
times = []
for _, modules in {steps!r}:
    began = time.process_time()
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
        if name == "pydantic":
            exec("class Warm(pydantic.BaseModel):\\n    a: int = pydantic.Field(ge=0)", {{"pydantic": sys.modules["pydantic"]}})
    times.append(time.process_time() - began)
began = time.process_time()
import app
times.append(time.process_time() - began)
began = time.process_time()
app.lambda_handler(event, Context())
times.append(time.process_time() - began)
print(json.dumps(times))
"""


@dataclass
class Module:
    name: str
    self_us: float
    cumulative_us: float
    parent: str | None


def parse_importtime(stderr: str) -> dict[str, Module]:
    """`-X importtime` lines come children first; indentation gives the depth."""
    modules: dict[str, Module] = {}
    pending: list[tuple[int, str]] = []  # (depth, name) not yet given a parent
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, raw = line.removeprefix("import time:").split("|")
        name = raw.rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        name = name.strip()
        while pending and pending[-1][0] > depth:
            modules[pending.pop()[1]].parent = name
        modules[name] = Module(name, float(self_us), float(cumulative_us), None)
        pending.append((depth, name))
    return modules


def _averaged(runs: list[dict[str, Module]]) -> dict[str, Module]:
    merged = {}
    for name, module in runs[0].items():
        values = [run[name] for run in runs if name in run]
        merged[name] = Module(name, statistics.mean(m.self_us for m in values),
                              statistics.mean(m.cumulative_us for m in values), module.parent)
    return merged


def group_of(name: str) -> str:
    parts = name.split(".")
    if parts[0] in ("aws_lambda_powertools", "loyalty"):
        return ".".join(parts[:3])
    return parts[0]


def pulled_in_by(modules: dict[str, Module], name: str) -> str:
    """The nearest of our modules (or the handler) on the import chain of `name`."""
    chain, current = [], name
    while current is not None:
        chain.append(current)
        current = modules[current].parent if current in modules else None
    for step in chain[1:]:
        if step == "app" or step.startswith("loyalty"):
            return step
    return chain[-1]


def measure() -> list[Target]:
    for path in (sysconfig.get_paths()["purelib"], LAYER, FUNCTIONS, PEER, PEER_STACK):
        compileall.compile_dir(str(path), quiet=1, workers=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = _environment(f"http://127.0.0.1:{server.server_address[1]}")
    every = targets()
    try:
        waterfall = WATERFALL.format(paths=None, steps=STEPS)
        for _ in range(RUNS):
            for target in every:
                target.samples.append(json.loads(_run(target, env).stdout.strip().splitlines()[-1]))
                if target.code == HANDLER:
                    code = waterfall.replace("sys.path[:0] = None", f"sys.path[:0] = {target.paths!r}")
                    target.steps.append(json.loads(_run(target, env, code=code).stdout.strip().splitlines()[-1]))
        for target in every:
            target.imports = _averaged([parse_importtime(_run(target, env, "-X", "importtime").stderr)
                                        for _ in range(IMPORTTIME_RUNS)])
    finally:
        server.shutdown()
    return every


def main() -> int:
    every = measure()
    baseline, peer = every[0], every[1]
    base = baseline.median("first")
    print(f"Cold start to the first answer (import, initialise, one DynamoDB call to a loopback stub); CPU ms, "
          f"median of {RUNS} fresh interpreters, interleaved")
    print(f"Target: every API function <= {TARGET}x the peer (a powertools + pydantic + boto3 handler, benchmarks/peer); "
          "peer-stack is the peer with pynamodb and the Tracer, as this project is built")
    print(f"{'handler':<11} {'import ms':>10} {'first answer ms':>16} {'status':>7} {'x boto3':>8} {'x peer':>7} {'target':>7}")
    missed = []
    for target in every:
        ratio = target.median("first") / peer.median("first")
        held = target not in (baseline, peer) and target.held_to_target
        met = ("met" if ratio <= TARGET else "MISSED") if held else "-"
        print(f"{target.name:<11} {target.median('init') * 1000:>10.1f} {target.median('first') * 1000:>16.1f} "
              f"{target.samples[-1]['status']:>7} {target.median('first') / base:>8.2f} {ratio:>7.2f} {met:>7}")
        if held and ratio > TARGET:
            missed.append(f"cold start of {target.name}: {ratio:.2f}x the peer (target <= {TARGET}x)")

    print(f"\nWhere the time goes: CPU ms of each step given the ones before, median of {RUNS} (boto3 and its client: "
          f"{base * 1000:.0f} ms)")
    handlers = [target for target in every if target.steps]
    print(f"{'step':<44} " + " ".join(f"{target.name:>7}" for target in handlers))
    labels = [label for label, _ in STEPS] + ["the function's module (routes, its models)", "first answer (client, call)"]
    for index, label in enumerate(labels):
        print(f"{label:<44} " + " ".join(f"{statistics.median(run[index] for run in t.steps) * 1000:>7.1f}" for t in handlers))

    print(f"\nHeaviest imports beyond `import boto3` (-X importtime, own wall time, mean of {IMPORTTIME_RUNS}; noisy on a "
          "loaded machine)")
    base_modules = set(baseline.imports)
    for target in every[1:]:
        extra = {name: module for name, module in target.imports.items() if name not in base_modules}
        groups: dict[str, float] = defaultdict(float)
        for name, module in extra.items():
            groups[group_of(name)] += module.self_us
        heaviest = sorted(extra.values(), key=lambda module: -module.self_us)[:6]
        print(f"{target.name}: {len(extra)} modules; by package: " + ", ".join(
            f"{group} {self_us / 1000:.0f}" for group, self_us in sorted(groups.items(), key=lambda item: -item[1])[:5]))
        print("    heaviest: " + ", ".join(f"{m.name} ({pulled_in_by(target.imports, m.name)}) {m.self_us / 1000:.1f}" for m in heaviest))
    return verdict(missed)


if __name__ == "__main__":
    raise SystemExit(main())
