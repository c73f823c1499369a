"""Cost per operation: DynamoDB capacity units and the all-in price of a million calls, per route and job.

The functions run in this process against moto in server mode, through a recording proxy that
sees every DynamoDB request and answer whatever code sends them. Before and after each write it
reads the items the write touches straight from moto, so the units follow DynamoDB's rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
item size = attribute names + values; reads in 4 KB units (eventually consistent half a unit,
transactional two), a Query rounding the sum of the items read; writes in 1 KB units of the
larger of the before and after images, two per KB in a transaction, one at least even when the
condition fails; plus the index entries a write adds, changes or removes (1 per KB). moto's own
ReturnConsumedCapacity is a constant per call (0.5 or 1 or 2, whatever the size), so it is not used.

Lambda's billed duration is the handler's own time here (its time minus the time spent waiting
for moto) plus DYNAMODB_MS per DynamoDB request, the latency of DynamoDB from Lambda in-region.

The earn transaction also updates the day's counter item, which holds an attribute per distinct
pair of previous-purchase days among that day's purchases: the last table shows what an earn
costs when that item already holds the pairs of 10, 10,000 and 100,000 purchases that day.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.environment import ROOT, LambdaContext, api_event, load_function, use_environment, verdict

# List prices, us-east-1, as given for this project on 2026-11-26 (not fetched): HTTP API first 300M requests;
# Lambda arm64; DynamoDB on-demand (after the November 2024 reduction).
HTTP_API_PER_MILLION = 1.00
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
WRU_PER_MILLION, RRU_PER_MILLION = 0.625, 0.125
DYNAMODB_MS = 6.0
CALLS = int(os.environ.get("BENCH_COST_CALLS", "15"))
JOB_MEMBERS = 10
DAY_PURCHASES = (10, 10_000, 100_000)
ITEM_LIMIT = 400 * 1024
# Earn costs up to this much in DynamoDB a million when the counter item is small: above it, counters cost more
# than the earn itself and should leave its transaction.
COUNTER_SHARE_TARGET = 0.5

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


# ------------------------------------------------------------------ DynamoDB's size and capacity rules


def value_size(value: dict) -> int:
    (kind, content), = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = Decimal(content).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(content) * 3 // 4  # base64 in the wire format; DynamoDB counts the raw bytes
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(inner) + 1 for name, inner in content.items())
    if kind == "L":
        return 3 + sum(value_size(inner) + 1 for inner in content)
    if kind == "SS":
        return sum(len(text.encode()) for text in content)
    if kind == "NS":
        return sum(value_size({"N": number}) for number in content)
    return sum(len(blob) * 3 // 4 for blob in content)  # BS


def item_size(item: dict | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


def write_units(before: dict | None, after: dict | None) -> int:
    return max(1, math.ceil(max(item_size(before), item_size(after)) / 1024))


# ------------------------------------------------------------------ the recording proxy


@dataclass
class Call:
    operation: str
    request: dict
    answer: dict
    status: int
    seconds: float
    images: list[tuple[str, dict | None, dict | None]] = field(default_factory=list)  # table, before, after


class Tables:
    """Key schemas and indexes, and raw reads of items, straight from moto (not through the proxy)."""

    def __init__(self, client) -> None:
        self.client = client
        self.keys: dict[str, list[str]] = {}
        self.indexes: dict[str, list[tuple[list[str], dict]]] = {}
        for name in client.list_tables()["TableNames"]:
            table = client.describe_table(TableName=name)["Table"]
            self.keys[name] = [key["AttributeName"] for key in table["KeySchema"]]
            self.indexes[name] = [([key["AttributeName"] for key in index["KeySchema"]], index["Projection"])
                                  for index in table.get("GlobalSecondaryIndexes", []) + table.get("LocalSecondaryIndexes", [])]

    def key_of(self, table: str, item: dict) -> dict:
        return {name: item[name] for name in self.keys[table]}

    def get(self, table: str, key: dict) -> dict | None:
        return self.client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def index_entry(self, table: str, index: tuple[list[str], dict], item: dict | None) -> dict | None:
        keys, projection = index
        if item is None or any(name not in item for name in keys):
            return None  # sparse: no entry
        kept = set(keys) | set(self.keys[table])
        if projection["ProjectionType"] == "ALL":
            return item
        if projection["ProjectionType"] == "INCLUDE":
            kept |= set(projection.get("NonKeyAttributes", []))
        return {name: value for name, value in item.items() if name in kept}


def _touched(request: dict, operation: str) -> list[tuple[str, dict]]:
    """(table, key or item) of every item a write touches."""
    if operation in ("PutItem",):
        return [(request["TableName"], request["Item"])]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(request["TableName"], request["Key"])]
    if operation == "TransactWriteItems":
        found = []
        for action in request["TransactItems"]:
            (kind, body), = action.items()
            found.append((body["TableName"], body["Item"] if kind == "Put" else body["Key"]))
        return found
    found = []
    for table, requests in request.get("RequestItems", {}).items():  # BatchWriteItem
        for entry in requests:
            found.append((table, entry["PutRequest"]["Item"] if "PutRequest" in entry else entry["DeleteRequest"]["Key"]))
    return found


class Proxy:
    """An HTTP proxy to moto that records every DynamoDB call and the images of the items it writes."""

    def __init__(self, moto_port: int, tables: Tables) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                started = time.perf_counter()
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = json.loads(raw or b"{}")
                operation = self.headers.get("x-amz-target", "").rpartition(".")[2]
                keys = [(table, tables.key_of(table, item)) for table, item in _touched(request, operation)] \
                    if operation in WRITES else []
                before = [tables.get(table, key) for table, key in keys]
                upstream = HTTPConnection("127.0.0.1", moto_port)
                upstream.request("POST", self.path, raw, {name: value for name, value in self.headers.items()})
                response = upstream.getresponse()
                body = response.read()
                after = [tables.get(table, key) for table, key in keys]
                # All of it counts as time in DynamoDB: the handler waits for it, images included.
                call = Call(operation, request, json.loads(body or b"{}"), response.status, time.perf_counter() - started,
                            [(table, old, new) for (table, _), old, new in zip(keys, before, after, strict=True)])
                with proxy.lock:
                    proxy.calls.append(call)
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"


def units(calls: list[Call], tables: Tables) -> tuple[float, float]:
    """(read units, write units) the calls consumed."""
    reads = writes = 0.0
    for call in calls:
        request, answer, operation = call.request, call.answer, call.operation
        failed = call.status != 200
        if operation == "GetItem":
            reads += read_units(item_size(answer.get("Item")), request.get("ConsistentRead", False))
        elif operation in ("Query", "Scan"):
            size = sum(item_size(item) for item in answer.get("Items", []))
            reads += read_units(size, request.get("ConsistentRead", False))
        elif operation == "BatchGetItem":
            # Each key is a read of its own, charged at least the minimum when the item does not exist.
            for table, asked in request["RequestItems"].items():
                items = answer.get("Responses", {}).get(table, [])
                unprocessed = len(answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
                consistent = asked.get("ConsistentRead", False)
                missing = len(asked["Keys"]) - unprocessed - len(items)
                reads += sum(read_units(item_size(item), consistent) for item in items) + missing * read_units(0, consistent)
        elif operation == "TransactGetItems":
            reads += sum(2 * read_units(item_size(found.get("Item")), True) for found in answer.get("Responses", []))
            if failed:
                reads += 2 * len(request["TransactItems"])
        elif operation in WRITES:
            factor = 2 if operation == "TransactWriteItems" else 1
            for table, before, after in call.images:
                writes += factor * write_units(before, after)
                if failed:
                    continue  # nothing written, so no index changed
                for index in tables.indexes[table]:
                    old, new = tables.index_entry(table, index, before), tables.index_entry(table, index, after)
                    if old == new:
                        continue
                    if old is not None and new is not None and all(old.get(k) == new.get(k) for k in index[0]):
                        writes += write_units(old, new)  # the entry is updated in place
                    else:
                        writes += (write_units(old, None) if old else 0) + (write_units(None, new) if new else 0)
    return reads, writes


# ------------------------------------------------------------------ the runs


@dataclass
class Row:
    name: str
    function: str
    http: bool
    memory_mb: int
    calls: int = 0
    requests: int = 0
    reads: float = 0
    writes: float = 0
    billed_ms: float = 0
    per: int = 1  # calls are divided among this many units of work (members, for the jobs)

    def add(self, calls: list[Call], seconds: float, tables: Tables) -> None:
        reads, writes = units(calls, tables)
        self.calls += 1
        self.requests += len(calls)
        self.reads += reads
        self.writes += writes
        own = max(0.0, seconds - sum(call.seconds for call in calls)) * 1000
        self.billed_ms += math.ceil(own + DYNAMODB_MS * len(calls))

    def mean(self, total: float) -> float:
        return total / self.calls / self.per

    def dollars_per_million(self) -> float:
        lambda_cost = (LAMBDA_PER_MILLION_REQUESTS / self.per
                       + self.memory_mb / 1024 * self.mean(self.billed_ms) / 1000 * LAMBDA_ARM_PER_GB_SECOND * 1e6)
        dynamodb = self.mean(self.writes) * WRU_PER_MILLION + self.mean(self.reads) * RRU_PER_MILLION
        return (HTTP_API_PER_MILLION if self.http else 0) + lambda_cost + dynamodb


def _memory_sizes() -> dict[str, int]:
    from cfnlint.decode import decode

    template, problems = decode(str(ROOT / "template.yaml"))
    if problems:
        raise RuntimeError(f"template.yaml does not parse: {problems}")
    default = template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    return {
        props["CodeUri"].strip("/").split("/")[-1]: int(props.get("MemorySize", default))
        for resource in template["Resources"].values() if resource["Type"] == "AWS::Serverless::Function"
        for props in [resource["Properties"]]
    }


def _scheduled(when: datetime) -> dict:
    event = json.loads((ROOT / "events" / "expire-points-scheduled.json").read_text())
    event["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _pad_day_counters(tables: Tables, proxy: Proxy, earn_calls: list[Call], purchases_per_day: int, shards: int) -> int:
    """Fill the day counter item the last earn updated with the pairs of `purchases_per_day` purchases; its size."""
    day_keys = [(table, after) for call in earn_calls for table, _, after in call.images
                if after and after.get("pk", {}).get("S", "").startswith("D#") and "purchases" in after]
    table, item = day_keys[-1]
    today = datetime.strptime(item["pk"]["S"].split("#")[1], "%Y-%m-%d").date()
    random.seed(purchases_per_day)
    counts: dict[str, int] = defaultdict(int)
    # One shard's share. Days since a member's previous purchase, and the one before: 10% first purchases,
    # otherwise about three weeks apart on average (exponential), at most ~13 months back.
    for _ in range(max(1, purchases_per_day // shards)):
        previous = None if random.random() < 0.10 else today - timedelta(days=1 + min(400, int(random.expovariate(1 / 21))))
        before = None if previous is None or random.random() < 0.15 else previous - timedelta(days=1 + min(400, int(random.expovariate(1 / 21))))
        counts[f"pf_{previous or 'none'}"] += 1
        counts[f"pr_{previous or 'none'}_{before or 'none'}"] += 1
    padded = {**item, **{name: {"N": str(count)} for name, count in counts.items()}}
    padded["purchases"] = {"N": str(max(1, purchases_per_day // shards))}
    size = item_size(padded)
    if size <= ITEM_LIMIT:
        tables.client.put_item(TableName=table, Item=padded)
    return size


def measure() -> tuple[list[Row], list[dict]]:
    import boto3
    from moto.server import ThreadedMotoServer

    # The jobs run months ahead: the functions read the local runtime's movable clock (loyalty.clock).
    clock_file = Path(tempfile.mkdtemp(prefix="bench-clock-")) / "clock.json"
    use_environment(LOCAL_CLOCK_FILE=str(clock_file))
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_port = moto.get_host_and_port()[1]
    try:
        raw = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{moto_port}")
        from loyalty_local.template import create_tables

        create_tables(raw)
        tables = Tables(raw)
        proxy = Proxy(moto_port, tables)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.endpoint
        subprocess.run([sys.executable, "-m", "loyalty.seed"], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        memory = _memory_sizes()
        handlers = {name: load_function(name, instance=7).lambda_handler
                    for name in ("enroll", "earn", "redeem", "report", "expire_points", "tier_review")}
        rows: dict[str, Row] = {}
        last_calls: dict[str, list[Call]] = {}
        warmed: set[str] = set()

        def invoke(name: str, function: str, event: dict, expect: int | None = 200, count: bool = True, warm_up: bool = True):
            """Call a handler; its first call on a route is not counted (lazy imports, caches filling)."""
            first = len(proxy.calls)
            started = time.perf_counter()
            response = handlers[function](event, LambdaContext(function_name=function, memory_limit_in_mb=memory[function]))
            seconds = time.perf_counter() - started
            if expect is not None:
                assert response["statusCode"] == expect, (name, response)
            calls = proxy.calls[first:]
            last_calls[name] = calls
            if count and (name in warmed or not warm_up):
                rows.setdefault(name, Row(name, function, expect is not None, memory[function])).add(calls, seconds, tables)
            warmed.add(name)
            return response

        def body(response: dict) -> dict:
            return json.loads(response["body"])

        member = body(invoke("setup", "enroll", api_event("POST", "/v1/members", body={"email": "cost@example.com"}), 201, count=False))["member_id"]
        for index in range(CALLS):
            invoke("enroll", "enroll", api_event("POST", "/v1/members", body={"email": f"c{index}@example.com"}), 201)
        for index in range(CALLS):
            purchase = {"transaction_id": f"t{index}", "amount_minor": 2500, "currency": "EUR"}
            invoke("earn", "earn", api_event("POST", f"/v1/members/{member}/earn", body=purchase), 201)
            invoke("earn replay", "earn", api_event("POST", f"/v1/members/{member}/earn", body=purchase), 200)
        for index in range(CALLS):
            invoke("return", "earn", api_event("POST", f"/v1/members/{member}/returns",
                                               body={"transaction_id": f"t{index}", "return_id": f"r{index}", "amount_minor": 500}), 201)
            points = api_event("POST", f"/v1/members/{member}/redemptions", body={"points": 5}, headers={"Idempotency-Key": f"p{index}"})
            invoke("redeem points", "redeem", points, 201)
            invoke("redeem replay", "redeem", points, 200)
        admin = {"scopes": "loyalty/admin", "sub": "bench-admin"}
        for index in range(CALLS):
            invoke("adjustment", "earn", api_event("POST", f"/v1/members/{member}/adjustments", **admin,
                                                   body={"points": 10, "reason": "goodwill"},
                                                   headers={"Idempotency-Key": f"a{index}"}), 201)
            invoke("block", "enroll", api_event("POST", f"/v1/members/{member}/block", **admin,
                                                body={"reason": "suspected fraud"}))
            invoke("unblock", "enroll", api_event("POST", f"/v1/members/{member}/unblock", **admin))
            invoke("lookup by e-mail", "report", api_event("GET", "/v1/members", query={"email": f"c{index}@example.com"}))
        for _ in range(CALLS):
            invoke("member view", "report", api_event("GET", f"/v1/members/{member}"))
            invoke("activity page", "report", api_event("GET", f"/v1/members/{member}/activity", query={"limit": "20"}))
            invoke("rewards (cached)", "redeem", api_event("GET", "/v1/rewards"))
            invoke("program", "report", api_event("GET", "/v1/program"))
            today = datetime.now(timezone.utc).date()
            invoke("report, 31 days", "report", api_event("GET", "/v1/reports/program", scopes="loyalty/admin",
                                                          query={"from": str(today - timedelta(days=30)), "to": str(today)}))

        # Campaigns: an earn with 10 active campaigns that apply, first without limits (each adds to its total
        # counter), then with two limits each (their counters read with the member, written under conditions).
        from loyalty.domain.campaigns import parse_campaign
        from loyalty.store.campaigns import ACTIVE, ENDED, PK, CampaignStore

        campaigns = CampaignStore.from_table(os.environ["CATALOG_TABLE"], "us-east-1", proxy.endpoint)
        limits = [{"per": "member", "period": "day", "max_points": 1_000_000},
                  {"per": "campaign", "period": "campaign", "max_points": 1_000_000_000}]
        for name, kind, campaign_limits, instance in (("earn, 10 campaigns", "free", [], 8),
                                                      ("earn, 10 limited", "capped", limits, 9)):
            for stale in campaigns.active():  # the previous row's campaigns end (the store has no end() here)
                campaigns.model(PK, stale.campaign_id).update(actions=[campaigns.model.status.set(ENDED)],
                                                              condition=campaigns.model.status == ACTIVE)
            for index in range(10):
                campaigns.create(parse_campaign({
                    "campaign_id": f"{kind}-{index}", "name": f"{kind} {index}", "effect": {"type": "bonus", "points": 5},
                    "conditions": {"all": [{"fact": "order.eligible_minor", "op": "gte", "value": 100}]},
                    "limits": campaign_limits}), datetime.now(timezone.utc))
                campaigns.activate(f"{kind}-{index}", datetime.now(timezone.utc))
            function = f"earn_{kind}"  # its own instance: its cache holds these campaigns
            handlers[function], memory[function] = load_function("earn", instance=instance).lambda_handler, memory["earn"]
            for index in range(-1, CALLS):
                invoke(name, function, api_event("POST", f"/v1/members/{member}/earn", body={
                    "transaction_id": f"{kind}{index}", "amount_minor": 2500, "currency": "EUR"}), 201)
        for stale in campaigns.active():
            campaigns.model(PK, stale.campaign_id).update(actions=[campaigns.model.status.set(ENDED)])

        # The earn again, with the day's counter item holding the pairs of many purchases.
        shards = int(os.environ.get("STATS_SHARDS", "8"))
        growth = []
        earn_calls = last_calls["earn"]
        for index, purchases in enumerate(DAY_PURCHASES):
            size = _pad_day_counters(tables, proxy, earn_calls, purchases, shards)
            name = f"earn, {purchases:,} a day"
            if size > ITEM_LIMIT:
                growth.append({"purchases": purchases, "size": size, "row": None})
                continue
            for call in range(3):
                invoke(name, "earn", api_event("POST", f"/v1/members/{member}/earn",
                                               body={"transaction_id": f"g{index}-{call}", "amount_minor": 2500, "currency": "EUR"}),
                       201, warm_up=False)
            growth.append({"purchases": purchases, "size": size, "row": rows.pop(name)})

        # Jobs (last: their entries move the members' clocks on), per member changed: JOB_MEMBERS more
        # Platinum members; everyone's points expire, then every member above Bronze drops a tier.
        for index in range(JOB_MEMBERS):
            other = body(invoke("setup", "enroll", api_event("POST", "/v1/members", body={"email": f"j{index}@example.com"}), 201, count=False))
            invoke("setup", "earn", api_event("POST", f"/v1/members/{other['member_id']}/earn",
                                              body={"transaction_id": f"j{index}", "amount_minor": 500_000, "currency": "EUR"}), 201, count=False)
        now = datetime.now(timezone.utc)
        for name, function, days in (("expire job", "expire_points", 800), ("tier review job", "tier_review", 430)):
            clock_file.write_text(json.dumps({"offset_seconds": timedelta(days=days).total_seconds()}))
            result = invoke(name, function, _scheduled(now + timedelta(days=days)), None, warm_up=False)
            rows[name].per = int(result["members"])  # the dispatcher says how many members it had due
        return list(rows.values()), growth
    finally:
        moto.stop()


def main() -> int:
    rows, growth = measure()
    print(f"Capacity and cost per call (moto server through a recording proxy; {CALLS} calls each; jobs per member changed)")
    print(f"prices: HTTP API ${HTTP_API_PER_MILLION:.2f}/M; Lambda arm64 ${LAMBDA_PER_MILLION_REQUESTS:.2f}/M + "
          f"${LAMBDA_ARM_PER_GB_SECOND}/GB-s; DynamoDB on-demand ${WRU_PER_MILLION}/M WRU, ${RRU_PER_MILLION}/M RRU "
          f"(us-east-1 list prices as of 2026-11-26); billed ms = own time + {DYNAMODB_MS:.0f} ms per DynamoDB request")
    print(f"{'route or job':<18} {'function':<14} {'MB':>4} {'DDB req':>7} {'RRU':>6} {'WRU':>6} {'billed ms':>9} "
          f"{'$ per M calls':>13} {'of which DDB':>12}")
    for row in rows:
        dynamodb = row.mean(row.writes) * WRU_PER_MILLION + row.mean(row.reads) * RRU_PER_MILLION
        print(f"{row.name:<18} {row.function:<14} {row.memory_mb:>4} {row.requests / row.calls / row.per:>7.2f} "
              f"{row.mean(row.reads):>6.2f} {row.mean(row.writes):>6.2f} {row.mean(row.billed_ms):>9.1f} "
              f"{row.dollars_per_million():>13.2f} {dynamodb:>12.2f}")

    print("\nThe earn when the day's counter item (one shard of " + os.environ.get("STATS_SHARDS", "8") +
          ") already holds the previous-purchase pairs of N purchases that day")
    print(f"{'purchases a day':>15} {'item KB':>8} {'earn WRU':>9} {'$ per M earns':>14}")
    missed = []
    base = None
    for entry in growth:
        row = entry["row"]
        if row is None:
            print(f"{entry['purchases']:>15,} {entry['size'] / 1024:>8.1f} {'-':>9} {'-':>14}  over DynamoDB's 400 KB item limit: the earn would fail")
            missed.append(f"earn: the day's counter item would exceed 400 KB at {entry['purchases']:,} purchases a day")
            continue
        base = base or row
        print(f"{entry['purchases']:>15,} {entry['size'] / 1024:>8.1f} {row.mean(row.writes):>9.1f} {row.dollars_per_million():>14.2f}")
    if base:
        for entry in growth[1:]:
            row = entry["row"]
            if row is not None and row.dollars_per_million() > base.dollars_per_million() * (1 + COUNTER_SHARE_TARGET):
                missed.append(f"earn at {entry['purchases']:,} purchases a day costs {row.dollars_per_million():.2f} $/M "
                              f"against {base.dollars_per_million():.2f} when the counter item is small (target: within "
                              f"{COUNTER_SHARE_TARGET:.0%})")
    return verdict(missed)


if __name__ == "__main__":
    raise SystemExit(main())
