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

The scale table: the earn's counter items are given, straight in moto, what a program of 100,
10,000 and 1,000,000 purchases a day and 1, 12 and 36 months of history would hold (computed from a
sample of purchase gaps, not by sending a million requests), then earns are measured against them:
one by a member who bought earlier today (its gaps ride in the day item) and one by a member whose
last purchase was 60 days ago (a gap item too). Beside them: the largest item an earn writes, the
31-day report's read units over days filled alike, and the highest earn rate the hottest item an
earn writes allows (one partition takes about 1,000 write units a second).
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
SCALES = (100, 10_000, 1_000_000)  # purchases a day
AGES = (1, 12, 36)  # months of history
FLAT_TARGET = 1.1  # an earn's units at any scale and age, against the same earn at 100 a day and 1 month
PLAIN_EARN_WRU_TARGET = 8
CAMPAIGNS_EARN_WRU_TARGET = 10
LIMIT_COUNTER_WRU_TARGET = 2  # what each limit counter an earn guards may add (10 limited campaigns x 2 counters)
LIMITED_COUNTERS = 20
ITEM_TARGET = 4 * 1024  # every item an earn writes
HOT_RATE_TARGET = 2_000  # earns a second program-wide, and purchases a second on one campaign
REPORT_RRU_TARGET = 150  # a 31-day report at any traffic
PARTITION_WCU = 1_000  # write units a second one DynamoDB partition (so one item) takes
LONG_GAP_DAYS = 60

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


def _simulated_day(day, purchases_per_day: int, months: int, shards: int, seed: int) -> dict[str, dict[str, int]]:
    """The counter items of one day (every shard, gap items included) of a program of that traffic and age:
    the gaps of a sample of purchases (10% first purchases, otherwise about three weeks apart on average,
    never longer ago than the program's age), scaled to the day's purchases."""
    from loyalty.domain import stats
    from loyalty.store import keys

    rng = random.Random(seed)
    per_shard = max(1, purchases_per_day // shards)
    sample = min(per_shard, 4_000)
    age_days = months * 30
    items: dict[str, dict[str, int]] = {}
    for shard in range(shards):
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _ in range(sample):
            gap = None if rng.random() < 0.10 else int(rng.expovariate(1 / 21))
            gap2 = None if gap is None or rng.random() < 0.15 else gap + 1 + int(rng.expovariate(1 / 21))
            previous = (day - timedelta(days=gap)).isoformat() if gap is not None and gap <= age_days else None
            before = (day - timedelta(days=gap2)).isoformat() if previous and gap2 is not None and gap2 <= age_days else None
            for chunk, name in stats.purchase_gap_counters(day, previous, before):
                bucket = stats.Bucket(stats.DAY, day.isoformat()) if chunk is None else \
                    stats.Bucket(stats.GAPS, day.isoformat(), chunk)
                counts[keys.counter_key(bucket, shard)][name] += 1
        day_key = keys.counter_key(stats.Bucket(stats.DAY, day.isoformat()), shard)
        fixed = {
            "purchases": per_shard, "revenue_minor": per_shard * 2_500, "points_issued": per_shard * 25,
            "net_points": per_shard * 20, "points_redeemed": per_shard * 4, "points_returned": per_shard,
            "refunds_minor": per_shard * 100, "enrollments": max(1, per_shard // 20),
            **{f"enrollments_{channel}": max(1, per_shard // 100) for channel in stats.CHANNELS},
        }
        for key, values in counts.items():
            items[key] = {name: max(1, round(value * per_shard / sample)) for name, value in values.items()}
        items[day_key] = {**items.get(day_key, {}), **fixed}
    return items


def _put_counters(tables: Tables, items: dict[str, dict[str, int]]) -> None:
    table = os.environ["STATS_TABLE"]
    for key, values in items.items():
        tables.client.put_item(TableName=table, Item={"pk": {"S": key}, **{name: {"N": str(value)} for name, value in values.items()}})


def _rolled_through(tables: Tables, day) -> None:
    """The daily roll-up's marker and the cumulative item of its last day, as a roll-up through `day` leaves them."""
    table = os.environ["STATS_TABLE"]
    tables.client.put_item(TableName=table, Item={"pk": {"S": "ROLLUP"}, "rolled_through": {"S": str(day)}})
    tables.client.put_item(TableName=table, Item={"pk": {"S": f"C#{day}"}, "net_points": {"N": "987654321"},
                                                  "pending_net": {"N": "0"}})


def _written_sizes(calls: list[Call]) -> dict[str, int]:
    """The items the calls' transactions wrote: table and key -> the larger of its before and after sizes."""
    sizes = {}
    for call in calls:
        if call.operation == "TransactWriteItems":
            for table, before, after in call.images:
                item = after or before or {}
                key = "#".join(item[name]["S"] for name in ("pk", "member_id", "entry_key") if name in item)
                sizes[f"{table}:{key}"] = max(item_size(before), item_size(after))
    return sizes


def measure() -> tuple[list[Row], list[dict]]:
    import boto3
    from moto.server import ThreadedMotoServer

    # The jobs run months ahead: the functions read the local runtime's movable clock (loyalty.clock).
    clock_file = Path(tempfile.mkdtemp(prefix="bench-clock-")) / "clock.json"
    # A read timeout longer than the functions' 1 s: the recording proxy reads each item's images before and after a
    # write, and a timed-out request would be sent again by botocore and counted twice.
    use_environment(LOCAL_CLOCK_FILE=str(clock_file), DYNAMODB_READ_TIMEOUT_SECONDS="10")
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

        # Campaigns: an earn with 10 active campaigns that apply, first without limits (their statistics are the
        # ledger stream's to add: the earn writes no counter), then with two limits each (their counters read with the
        # member, written under conditions; the limit in all over the campaign also holds its statistics).
        from loyalty.domain.campaigns.document import parse_campaign
        from loyalty.campaigns.store import ACTIVE, ENDED, PK, CampaignStore

        campaigns = CampaignStore.from_table(os.environ["CATALOG_TABLE"], "us-east-1", proxy.endpoint)
        # The member reaches the top tier first: a promotion in the middle of a row would add its tier's writes there.
        invoke("setup", "earn", api_event("POST", f"/v1/members/{member}/earn", body={
            "transaction_id": "to-the-top", "amount_minor": 500_000, "currency": "EUR"}), 201, count=False)
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
        # The units of the limit counters the last limited earn wrote, each one's own (a tier the member reaches
        # meanwhile moves its total and grows the member: not the counters' doing).
        counter_units = [2 * write_units(before, after) for call in last_calls["earn, 10 limited"]
                         if call.operation == "TransactWriteItems" for _, before, after in call.images
                         if (after or before or {}).get("pk", {}).get("S", "").startswith("CL#")]

        # The scale table. Members whose last purchase was LONG_GAP_DAYS ago (enrolled and buying then).
        shards = int(os.environ.get("STATS_SHARDS", "8"))
        cells = [(purchases, months) for months in AGES for purchases in SCALES]
        clock_file.write_text(json.dumps({"offset_seconds": -timedelta(days=LONG_GAP_DAYS).total_seconds()}))
        returning = []
        for index in range(len(cells)):
            other = body(invoke("setup", "enroll", api_event("POST", "/v1/members", body={"email": f"s{index}@example.com"}),
                                201, count=False))
            invoke("setup", "earn", api_event("POST", f"/v1/members/{other['member_id']}/earn", body={
                "transaction_id": f"s{index}", "amount_minor": 2500, "currency": "EUR"}), 201, count=False)
            returning.append(other["member_id"])
        clock_file.write_text(json.dumps({"offset_seconds": 0}))
        today = datetime.now(timezone.utc).date()
        scale = []
        for index, (purchases, months) in enumerate(cells):
            _put_counters(tables, _simulated_day(today, purchases, months, shards, seed=index))
            cell = {"purchases": purchases, "months": months, "sizes": {}}
            for kind, who in (("today", member), ("60 days", returning[index])):
                invoke("cell", "earn", api_event("POST", f"/v1/members/{who}/earn", body={
                    "transaction_id": f"c{index}-{kind[:2].strip()}", "amount_minor": 2500, "currency": "EUR"}), 201, warm_up=False)
                cell[kind] = rows.pop("cell")
                cell["sizes"].update(_written_sizes(last_calls["cell"]))
            scale.append(cell)
        # The 31-day report at each traffic (the last 31 days), over days filled alike (36 months of history);
        # counting began before them (first_day on a total), so every day of the range is read; the daily roll-up has
        # run (its marker and the cumulative item of its last day, SETTLE_DAYS ago).
        reports = []
        first_day = {"pk": {"S": "T#0"}, "first_day": {"S": str(today - timedelta(days=3 * 365))}}
        tables.client.put_item(TableName=os.environ["STATS_TABLE"], Item=first_day)
        from loyalty.domain import stats

        _rolled_through(tables, today - timedelta(days=stats.SETTLE_DAYS))
        for purchases in SCALES:
            for offset in range(31):
                day = today - timedelta(days=offset)
                _put_counters(tables, {key: values for key, values in _simulated_day(day, purchases, 36, shards, offset).items()
                                       if key.startswith("D#")})
            invoke("scale report", "report", api_event("GET", "/v1/reports/program", scopes="loyalty/admin", query={
                "from": str(today - timedelta(days=30)), "to": str(today)}), warm_up=False)
            reports.append((purchases, rows.pop("scale report")))
        growth = {"cells": scale, "reports": reports, "shards": shards, "limit_counters": counter_units}

        # Jobs (last: their entries move the members' clocks on), per member changed: JOB_MEMBERS more
        # Platinum members; everyone's points expire, then every member above Bronze drops a tier.
        for index in range(JOB_MEMBERS):
            other = body(invoke("setup", "enroll", api_event("POST", "/v1/members", body={"email": f"j{index}@example.com"}), 201, count=False))
            invoke("setup", "earn", api_event("POST", f"/v1/members/{other['member_id']}/earn",
                                              body={"transaction_id": f"j{index}", "amount_minor": 500_000, "currency": "EUR"}), 201, count=False)
        now = datetime.now(timezone.utc)
        # The daily schedule also queues the roll-up: as on any day, it has one day to add.
        _rolled_through(tables, (now + timedelta(days=800)).date() - timedelta(days=stats.SETTLE_DAYS + 1))
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

    return verdict(_scale_table(rows, growth))


def _hottest(sizes: dict[str, int], shards: int) -> tuple[str, float]:
    """The counter item an earn writes that allows the fewest earns a second program-wide, and that rate: a day,
    gap, month or total item takes at most 1/shards of the earns, each write 2 units per started KB."""
    worst = ("-", float("inf"))
    for key, size in sizes.items():
        table, _, pk = key.partition(":")
        if table != os.environ["STATS_TABLE"]:
            continue
        rate = PARTITION_WCU / (2 * max(1, math.ceil(size / 1024))) * shards
        if rate < worst[1]:
            worst = (pk.split("#")[0] + "#", rate)
    return worst


def _scale_table(rows: list[Row], growth: dict) -> list[str]:
    cells, shards = growth["cells"], growth["shards"]
    by_name = {row.name: row for row in rows}
    plain = by_name["earn"].mean(by_name["earn"].writes)
    extra = {name: by_name[name].mean(by_name[name].writes) - plain for name in ("earn, 10 campaigns", "earn, 10 limited")}
    print(f"\nThe earn at scale: its counter items hold what N purchases a day over M months wrote ({shards} shards). "
          "WRU today: a member who bought earlier today; 60d: one whose last purchase was 60 days ago (a gap item too); "
          "+10 campaigns / +10 limited add the campaign counters' units measured above (fixed-size items)")
    print(f"{'a day':>10} {'months':>6} {'WRU today':>9} {'WRU 60d':>8} {'+10 camp':>8} {'+10 lim':>8} {'$/M earns':>9} "
          f"{'largest B':>9} {'hottest':>8} {'earns/s':>8}")
    missed = []
    base = cells[0]
    for cell in cells:
        today, gap = cell["today"], cell["60 days"]
        wru_today, wru_gap = today.mean(today.writes), gap.mean(gap.writes)
        largest = max(cell["sizes"].values())
        hot_key, hot_rate = _hottest(cell["sizes"], shards)
        print(f"{cell['purchases']:>10,} {cell['months']:>6} {wru_today:>9.1f} {wru_gap:>8.1f} "
              f"{wru_today + extra['earn, 10 campaigns']:>8.1f} {wru_today + extra['earn, 10 limited']:>8.1f} "
              f"{today.dollars_per_million():>9.2f} {largest:>9,} {hot_key:>8} {hot_rate:>8,.0f}")
        for label, row, reference in (("an earn after a purchase today", today, base["today"]),
                                      ("an earn 60 days after the last", gap, base["60 days"])):
            if row.mean(row.writes) > FLAT_TARGET * reference.mean(reference.writes):
                missed.append(f"{label}: {row.mean(row.writes):.1f} WRU at {cell['purchases']:,} a day and {cell['months']} "
                              f"months against {reference.mean(reference.writes):.1f} at 100 a day and 1 month "
                              f"(target <= {FLAT_TARGET}x)")
        if largest > ITEM_TARGET:
            missed.append(f"an earn writes an item of {largest:,} bytes at {cell['purchases']:,} a day (target <= {ITEM_TARGET:,})")
        if hot_rate < HOT_RATE_TARGET:
            missed.append(f"the hottest counter item allows {hot_rate:,.0f} earns a second (target >= {HOT_RATE_TARGET:,})")
    print(f"\n{'a day':>10} {'31-day report RRU':>18} {'DDB requests':>13}")
    for purchases, row in growth["reports"]:
        print(f"{purchases:>10,} {row.mean(row.reads):>18.1f} {row.requests / row.calls:>13.1f}")
        if row.mean(row.reads) > REPORT_RRU_TARGET:
            missed.append(f"a 31-day report costs {row.mean(row.reads):.0f} RRU at {purchases:,} a day (target <= {REPORT_RRU_TARGET})")
    from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS

    # A purchase writes one shard of a campaign's counter in all (its member's, while it has room), in a transaction.
    campaign_rate = PARTITION_WCU / 2 * CAMPAIGN_SHARDS
    print(f"\nA campaign's counter in all (CL#<campaign>#*#<period>#<shard>, {CAMPAIGN_SHARDS} shards) takes the purchases "
          f"the campaign applies to, each on one shard: at most {campaign_rate:,.0f} purchases a second")
    if campaign_rate < HOT_RATE_TARGET:
        missed.append(f"one campaign's counter in all allows {campaign_rate:,.0f} purchases a second (target >= {HOT_RATE_TARGET:,})")
    if plain > PLAIN_EARN_WRU_TARGET:
        missed.append(f"a plain earn costs {plain:.1f} WRU (target <= {PLAIN_EARN_WRU_TARGET})")
    if plain + extra["earn, 10 campaigns"] > CAMPAIGNS_EARN_WRU_TARGET:
        missed.append(f"an earn with 10 campaigns costs {plain + extra['earn, 10 campaigns']:.1f} WRU "
                      f"(target <= {CAMPAIGNS_EARN_WRU_TARGET})")
    counters = growth["limit_counters"]
    per_counter = sum(counters) / max(1, len(counters))
    print(f"The last earn with 10 limited campaigns wrote {len(counters)} limit counter items (target {LIMITED_COUNTERS}), "
          f"{per_counter:.2f} WRU each (target <= {LIMIT_COUNTER_WRU_TARGET}); the row adds "
          f"{extra['earn, 10 limited'] - extra['earn, 10 campaigns']:.1f} WRU to the earn with 10 campaigns on average")
    if len(counters) != LIMITED_COUNTERS or per_counter > LIMIT_COUNTER_WRU_TARGET:
        missed.append(f"an earn with 10 limited campaigns wrote {len(counters)} limit counters at {per_counter:.2f} WRU each "
                      f"(target {LIMITED_COUNTERS}, <= {LIMIT_COUNTER_WRU_TARGET} each)")
    return missed


if __name__ == "__main__":
    raise SystemExit(main())
