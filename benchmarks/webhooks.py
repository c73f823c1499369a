"""Webhook delivery: 1,000 events to 10 subscriptions, delivered on this machine within 30 s, and what a
delivery costs per event.

The deliverer's use cases run as the function runs them (handle_batch on SQS batches of 10 events), on moto's
DynamoDB and KMS in this process, POSTing to a receiver on 127.0.0.1 that verifies every signature and counts
each (subscription, event) once. DynamoDB requests are counted by operation with their item sizes; the cost
per event adds SQS's requests and the function's time at list prices.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from benchmarks.environment import FUNCTION_ENVIRONMENT, verdict

EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "1000"))
SUBSCRIPTIONS = 10
BATCH = 10  # the template's BatchSize
TARGET_SECONDS = 30.0
MEMORY_GB = 0.5  # the functions' MemorySize (512 MB)
# List prices, us-east-1 (as benchmarks/cost.py states them), plus SQS standard requests: $0.40 a million.
WRU_PER_MILLION, RRU_PER_MILLION = 0.625, 0.125
LAMBDA_PER_MILLION_REQUESTS, LAMBDA_ARM_PER_GB_SECOND = 0.20, 0.0000133334
SQS_PER_MILLION = 0.40


RECEIVER = """
import json, sys, threading, time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from loyalty.webhooks.signing import HEADER, verify

secrets = {}
received, refused, lock = Counter(), [], threading.Lock()

class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

    def do_GET(self):  # the counts, when the benchmark is done
        body = json.dumps({"once": sum(1 for n in received.values() if n == 1), "total": sum(received.values()),
                           "refused": refused[:5], "refused_count": len(refused)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):  # a subscription's secret
        secrets[self.path] = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.send_response(204)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            verify(secrets[self.path], body, self.headers[HEADER], int(time.time()))
        except Exception as error:
            refused.append(str(error))
        with lock:
            received[(self.path, self.headers["Loyalty-Event-Id"])] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
server.daemon_threads = True
print(server.server_port, flush=True)
server.serve_forever()
"""


def _start_receiver():
    """A receiver in its own process (as a real one is): it verifies signatures and counts deliveries."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


def _receiver_call(port: int, method: str, path: str, body: bytes = b"") -> dict | None:
    from http.client import HTTPConnection

    connection = HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body)
    answer = connection.getresponse().read()
    connection.close()
    return json.loads(answer) if answer else None


def main() -> int:
    os.environ.update(FUNCTION_ENVIRONMENT)
    import boto3
    from moto import mock_aws

    from benchmarks.cost import item_size
    from loyalty.clock import SystemClock
    from loyalty.webhooks.addresses import AddressPolicy
    from loyalty.webhooks.delivery import HttpSender
    from loyalty.webhooks.secrets import KmsSecretBox
    from loyalty.webhooks.store import WebhookStore
    from loyalty.webhooks.usecases import Webhooks
    from loyalty_local.template import load_template, table_definitions

    class Queue:
        sent: list = []  # noqa: RUF012

        def send(self, message, delay_seconds=0):
            self.sent.append(message)

        def postpone(self, receipt_handle, seconds):
            self.sent.append(receipt_handle)

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**table_definitions(load_template())["WebhooksTable"])
        kms = boto3.client("kms", region_name="us-east-1")
        calls: Counter = Counter()
        written: list[int] = []

        def count(params, model, **_):
            calls[model.name] += 1
            if model.name == "PutItem":
                written.append(item_size(params["Item"]))
            if model.name == "BatchWriteItem":
                written.extend(item_size(r["PutRequest"]["Item"]) for rs in params["RequestItems"].values() for r in rs)

        dynamodb.meta.events.register("before-parameter-build.dynamodb", count)
        queue = Queue()
        webhooks = Webhooks(store=WebhookStore(dynamodb, "WebhooksTable"),
                            box=KmsSecretBox(kms, kms.create_key()["KeyMetadata"]["Arn"]), clock=SystemClock(),
                            policy=AddressPolicy.named("public-or-loopback-http"), resolver=lambda host, port: [],
                            queue=queue, sender=HttpSender(pool_size=SUBSCRIPTIONS))
        receiver, port = _start_receiver()
        try:
            for index in range(SUBSCRIPTIONS):
                path = f"/hook-{index}"
                _, secret = webhooks.subscribe(f"http://127.0.0.1:{port}{path}", ["*"], "bench")
                _receiver_call(port, "PUT", path, secret.encode())
            calls.clear()
            written.clear()
            start = datetime.now(timezone.utc)
            records = [{"messageId": str(n), "receiptHandle": str(n), "body": json.dumps({
                "version": "0", "id": f"eb-{n}", "detail-type": "PointsEarned", "source": "loyalty",
                "time": (start + timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "detail": {"event_id": f"bench-{n}", "member_id": f"m{n:020d}", "points": 100, "balance": 100 + n}})}
                for n in range(EVENTS)]
            began = time.perf_counter()
            kept = []
            for first in range(0, EVENTS, BATCH):
                kept += webhooks.handle_batch(records[first:first + BATCH])
            seconds = time.perf_counter() - began
            counts = _receiver_call(port, "GET", "/counts")
        finally:
            receiver.kill()
            receiver.wait()

    deliveries = EVENTS * SUBSCRIPTIONS
    once, refused = counts["once"], counts["refused"]
    per_event = {op: n / EVENTS for op, n in sorted(calls.items())}
    wru = sum(max(1, -(-size // 1024)) for size in written) / EVENTS + calls["UpdateItem"] / EVENTS
    # a strongly consistent Query of the 10 subscriptions (< 4 KB) per batch, one unit; eventually consistent log
    # lookups, half a unit per item
    rru = calls["Query"] * 1.0 / EVENTS + calls["BatchGetItem"] * 0.5 * min(BATCH * SUBSCRIPTIONS, 100) / EVENTS
    sqs_requests = 1 + 2 / BATCH  # EventBridge's SendMessage per event; a receive and a delete per batch
    batches = EVENTS / BATCH
    lambda_dollars = (batches * LAMBDA_PER_MILLION_REQUESTS / 1e6 + seconds * MEMORY_GB * LAMBDA_ARM_PER_GB_SECOND) / EVENTS
    dollars = {"DynamoDB writes": wru * WRU_PER_MILLION / 1e6, "DynamoDB reads": rru * RRU_PER_MILLION / 1e6,
               "SQS": sqs_requests * SQS_PER_MILLION / 1e6, "Lambda (measured time here)": lambda_dollars}

    print(f"{EVENTS} events x {SUBSCRIPTIONS} subscriptions = {deliveries} deliveries in {seconds:.1f} s "
          f"({deliveries / seconds:.0f}/s), {once} received exactly once, {counts['refused_count']} signatures refused, "
          f"{len(kept)} left for a retry")
    print("DynamoDB requests per event: " + ", ".join(f"{op} {n:.2f}" for op, n in per_event.items()))
    print(f"items written: {min(written)}-{max(written)} bytes")
    print("\ncost per event delivered to 10 subscriptions        $ per million events")
    for name, value in dollars.items():
        print(f"  {name:<45} {value * 1e6:10.2f}")
    print(f"  {'total':<45} {sum(dollars.values()) * 1e6:10.2f}")
    print(f"  ({wru:.1f} WRU, {rru:.2f} RRU, {sqs_requests:.1f} SQS requests per event; Lambda at {MEMORY_GB * 1024:.0f} MB "
          "for the time measured here, on moto: an upper bound)")
    missed = []
    if seconds > TARGET_SECONDS:
        missed.append(f"{deliveries} deliveries took {seconds:.1f} s (target {TARGET_SECONDS:.0f} s)")
    if once != deliveries or refused or kept:
        missed.append(f"{once} of {deliveries} delivered exactly once, {len(refused)} refused, {len(kept)} kept")
    return verdict(missed)


if __name__ == "__main__":
    raise SystemExit(main())
