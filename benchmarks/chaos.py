"""The chaos run: a seeded, bounded mix of every write, with AWS faults injected below the store, then the invariants.

Enrollments (some with today's birthday), earns, returns, redemptions (of a reward with little stock), cancels,
adjustments and the daily and monthly jobs, through the functions' handlers in-process on moto, with
loyalty.store.faults throwing throttles, conflicts, connection resets, lost responses (applied, then the
connection drops) and PutEvents partial failures at the given rate per call. A client retries what answers 503
(same request, same keys), as the contract asks. Then, with the faults off:

- every request is sent once more: it is answered as its first answer (nothing applied twice);
- balance == sum of the ledger for every member, no balance below zero, each request's entry once;
- the reward's stock never below zero and equal to what the ledger's redemptions and cancels left;
- the campaign's limits (per member, and its budget) never exceeded;
- the ledger's events delivered: the stream published through a faulty PutEvents, each failed batch
  dead-lettered and replayed (ops/replay_events.py), the consumer dropping duplicates by event_id;
- the program report equal to a brute-force count over the ledger and the members;
- every 5xx was a 503 with Retry-After (transient) or a 500 STORE_REJECTED (permanent): none INTERNAL_ERROR.

`python -m benchmarks chaos` runs the large one with the SDK's shipped retries and prints the share of 2xx;
tests/faults/test_chaos.py runs a small one in `make test` without SDK retries, so every fault reaches the client.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from benchmarks.environment import api_event

Call = Callable[[str, dict], tuple[int, dict, dict]]  # (function, event) -> (status, body, headers)
REWARD = {"reward_id": "chaos-mug", "name": "Mug", "description": "A mug.", "kind": "free_item", "points": 40,
          "value_minor": 800, "stock": 12, "per_member_limit": 2}
CAMPAIGN_MEMBER_MAX, CAMPAIGN_BUDGET = 60, 900
CLIENT_TRIES = 6  # a client's tries of one request that answers 503
STAFF, ADMIN = "loyalty/pos", "loyalty/admin"


def campaign() -> dict:
    return {"campaign_id": "chaos-double", "name": "Double points", "description": "Everything earns double.",
            "starts_at": "2020-01-01T00:00:00Z", "ends_at": None, "schedule": None, "conditions": None, "applies_to": None,
            "effect": {"type": "multiply", "factor": "2"}, "priority": 100, "exclusive_group": None,
            "limits": [{"per": "member", "period": "campaign", "max_points": CAMPAIGN_MEMBER_MAX},
                       {"per": "campaign", "period": "campaign", "max_points": CAMPAIGN_BUDGET}]}


@dataclass
class Request:
    function: str
    event: dict
    kind: str
    member_id: str | None = None
    answer: tuple[int, dict] | None = None  # the first final answer (not a 503)
    tries: int = 0


@dataclass
class Outcome:
    seed: int
    requests: int = 0
    attempts: int = 0
    first_try_served: int = 0  # requests whose first call answered without a 5xx (the SDK's retries absorbed the faults)
    final_2xx: int = 0
    statuses: Counter = field(default_factory=Counter)
    injected: dict = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)  # invariant -> items checked
    violations: list[str] = field(default_factory=list)
    events_delivered: int = 0
    batches_dead_lettered: int = 0

    def share_served(self) -> float:
        return self.first_try_served / self.requests if self.requests else 1.0


def _event(method: str, path: str, body=None, scopes: str = STAFF, key: str | None = None, query=None) -> dict:
    return api_event(method, path, body=body, scopes=scopes, sub="chaos-till",
                     headers={"Idempotency-Key": key} if key else None, query=query)


def _scheduled(moment: datetime) -> dict:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
            "resources": [], "detail": {}}


class ChaosRun:
    def __init__(self, call: Call, injector, dynamodb, *, seed: int, operations: int) -> None:
        self.call, self.injector, self.dynamodb = call, injector, dynamodb
        self.random = random.Random(seed)
        self.outcome = Outcome(seed)
        self.operations = operations
        self.members: list[str] = []
        self.requests: list[Request] = []
        self.earned: dict[str, list[tuple[str, int]]] = defaultdict(list)  # member -> (transaction id, amount)
        self.redemptions: list[tuple[str, str]] = []  # (member, redemption id)

    # ------------------------------------------------------------ the run

    def send(self, request: Request) -> tuple[int, dict]:
        """As a client does: a 503 is tried again (same request), up to CLIENT_TRIES; anything else is final."""
        for _ in range(CLIENT_TRIES):
            status, body, headers = self.call(request.function, request.event)
            if request.tries == 0:
                self.outcome.first_try_served += status < 500
            request.tries += 1
            self.outcome.attempts += 1
            self.outcome.statuses[status] += 1
            if status >= 500:
                self._classify(status, body, headers)
            if status != 503:
                request.answer = (status, body)
                return status, body
        return status, body

    def _classify(self, status: int, body: dict, headers: dict) -> None:
        retry_after = {name.lower(): value for name, value in headers.items()}.get("retry-after")
        if status == 503 and body.get("code") == "TRY_AGAIN" and retry_after:
            return
        if status == 500 and body.get("code") == "STORE_REJECTED":
            return
        self.outcome.violations.append(f"a {status} that is neither 503 TRY_AGAIN with Retry-After nor STORE_REJECTED: {body}")

    def request(self, request: Request) -> tuple[int, dict]:
        self.requests.append(request)
        self.outcome.requests += 1
        status, body = self.send(request)
        self.outcome.final_2xx += 200 <= status < 300
        return status, body

    def setup(self) -> None:
        self.injector.enabled = False
        assert self.call("catalog", _event("POST", "/v1/rewards", REWARD, scopes=ADMIN))[0] == 201
        assert self.call("campaigns", _event("POST", "/v1/campaigns", campaign(), scopes=ADMIN))[0] == 201
        assert self.call("campaigns", _event("POST", "/v1/campaigns/chaos-double/activate", scopes=ADMIN))[0] == 200
        self.injector.enabled = True

    def step(self, index: int) -> None:
        choice = self.random.random() if self.members else 0.0
        if choice < 0.15 or len(self.members) < 3:
            today = datetime.now(timezone.utc).date()
            body = {"email": f"c{index}-{self.random.randrange(10**9)}@example.com"}
            if self.random.random() < 0.3:
                body["birthday"] = today.replace(year=1990).isoformat() if (today.month, today.day) != (2, 29) else None
            status, answer = self.request(Request("enroll", _event("POST", "/v1/members", body), "enroll"))
            if status == 201:
                self.members.append(answer["member_id"])
            return
        member = self.random.choice(self.members)
        if choice < 0.50:
            transaction, amount = f"t{index}", self.random.randrange(500, 30_000)
            status, _ = self.request(Request("earn", _event("POST", f"/v1/members/{member}/earn", {
                "transaction_id": transaction, "amount_minor": amount, "currency": "EUR"}), "earn", member))
            if status in (200, 201):
                self.earned[member].append((transaction, amount))
        elif choice < 0.58 and self.earned[member]:
            transaction, amount = self.random.choice(self.earned[member])
            self.request(Request("earn", _event("POST", f"/v1/members/{member}/returns", {
                "transaction_id": transaction, "return_id": f"r{index}",
                "amount_minor": self.random.randrange(1, amount // 2 + 2)}), "return", member))
        elif choice < 0.72:
            body = {"reward_id": REWARD["reward_id"]} if self.random.random() < 0.5 else {"points": self.random.randrange(10, 60)}
            status, answer = self.request(Request("redeem", _event("POST", f"/v1/members/{member}/redemptions", body,
                                                                    key=f"k{index}"), "redeem", member))
            if status in (200, 201):
                self.redemptions.append((member, answer["redemption_id"]))
        elif choice < 0.78 and self.redemptions:
            owner, redemption = self.random.choice(self.redemptions)
            self.request(Request("redeem", _event("POST", f"/v1/members/{owner}/redemptions/{redemption}/cancel"),
                                 "cancel", owner))
        elif choice < 0.88:
            points = self.random.choice([-1, 1]) * self.random.randrange(1, 40)
            self.request(Request("earn", _event("POST", f"/v1/members/{member}/adjustments", {
                "points": points, "reason": "chaos"}, scopes=ADMIN, key=f"a{index}"), "adjust", member))
        elif choice < 0.94:
            self.job("expire_points")
        else:
            self.request(Request("report", _event("GET", f"/v1/members/{member}"), "view", member))

    def job(self, function: str) -> None:
        """A scheduled run, retried as EventBridge Scheduler retries a failed one (its batches are idempotent)."""
        event = _scheduled(datetime.now(timezone.utc) - timedelta(seconds=5))
        for _ in range(CLIENT_TRIES):
            self.outcome.attempts += 1
            try:
                self.call(function, event)
                self.outcome.statuses["job ok"] += 1
                return
            except Exception:  # noqa: BLE001 - a failed run: the scheduler runs it again
                self.outcome.statuses["job failed"] += 1
        self.outcome.violations.append(f"{function} failed {CLIENT_TRIES} times in a row")

    def run(self) -> Outcome:
        self.setup()
        for index in range(self.operations):
            self.step(index)
        self.job("tier_review")
        self.outcome.injected = self.injector.summary()
        self.injector.enabled = False
        self.check_answers()
        self.check_ledger()
        self.check_report()
        return self.outcome

    # ------------------------------------------------------------ the invariants

    def check_answers(self) -> None:
        """Every write answered 2xx again: the same answer, nothing written; a request that never got a final answer
        (its client gave up) is sent again and goes through now, once."""
        checked = 0
        for request in self.requests:
            first = request.answer
            if request.kind == "view" or (first is not None and first[0] >= 400):
                continue  # a refusal wrote nothing; sent later it is a new decision (the balance may have grown)
            status, body, _ = self.call(request.function, request.event)
            if first is None:  # a client that gave up comes back later: now it goes through, once
                request.answer = (status, body)
                continue
            checked += 1
            if request.kind == "enroll":
                same = first[0] != 201 or (status == 409 and body.get("code") == "ALREADY_ENROLLED")
            else:
                same = status == 200 and body == first[1]
            if not same:
                self.outcome.violations.append(f"{request.kind}: first answer {first} but again {status} {body}")
        self.outcome.checks["answers repeated identically"] = checked

    def ledger(self) -> dict[str, list[dict]]:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName="LedgerTable", ConsistentRead=True)
        found: dict[str, list[dict]] = defaultdict(list)
        for page in pages:
            for item in page["Items"]:
                if "created_seq" in item:
                    found[item["member_id"]["S"]].append(item)
        return found

    def members_table(self) -> dict[str, dict]:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName="MembersTable", ConsistentRead=True)
        return {item["member_id"]["S"]: item for page in pages for item in page["Items"] if item["pk"]["S"].startswith("M#")}

    def check_ledger(self) -> None:
        ledger, members = self.ledger(), self.members_table()
        violations = self.outcome.violations
        for member_id, item in members.items():
            balance = int(item["balance"]["N"])
            total = sum(int(entry["points"]["N"]) for entry in ledger.get(member_id, []))
            if balance != total:
                violations.append(f"member {member_id}: balance {balance} != sum of its ledger {total}")
            if balance < 0:
                violations.append(f"member {member_id}: balance {balance} below zero")
        self.outcome.checks["balance == sum of entries, >= 0"] = len(members)
        entries = [entry for member in ledger.values() for entry in member]
        answered = Counter(request.kind for request in self.requests if request.answer and request.answer[0] in (200, 201)
                           and request.kind in ("earn", "return", "redeem", "adjust", "cancel"))
        keys = Counter((request.kind, request.member_id, json.dumps(request.event["body"]), request.event["headers"].get(
            "idempotency-key"), request.event["rawPath"]) for request in self.requests
            if request.answer and request.answer[0] in (200, 201) and request.kind in answered)
        types = Counter(entry["type"]["S"] for entry in entries)
        for kind in ("earn", "return", "redeem", "adjust", "cancel"):
            if types[kind] != len([key for key in keys if key[0] == kind]):
                written = sorted(entry["entry_key"]["S"] for entry in entries if entry["type"]["S"] == kind)
                asked = sorted(str(key[2:]) for key in keys if key[0] == kind)
                keys_answered = {key[3] for key in keys if key[0] == kind}
                unanswered = [(request.event["headers"].get("idempotency-key"), request.answer, request.tries)
                               for request in self.requests if request.kind == kind
                               and f"{kind}#{request.event['headers'].get('idempotency-key')}" in written
                               and request.event["headers"].get("idempotency-key") not in keys_answered]
                violations.append(f"{kind}: {types[kind]} entries for {len(asked)} requests answered: {unanswered}")
        self.outcome.checks["one entry per request answered"] = sum(answered.values())
        redeemed = sum(1 for entry in entries if entry["type"]["S"] == "redeem" and entry.get("reward_id", {}).get("S") == REWARD["reward_id"])
        cancelled = sum(1 for entry in entries if entry["type"]["S"] == "cancel" and entry.get("reward_id", {}).get("S") == REWARD["reward_id"])
        stock = self._stock()
        if stock < 0 or stock != REWARD["stock"] - redeemed + cancelled:
            violations.append(f"stock {stock} != {REWARD['stock']} - {redeemed} redeemed + {cancelled} cancelled")
        self.outcome.checks["stock >= 0 and as the ledger says"] = 1
        by_member = Counter()
        for entry in entries:
            for line in (entry.get("breakdown", {}).get("L") or []):
                line = line["M"]
                if line.get("campaign_id", {}).get("S") == "chaos-double":
                    by_member[entry["member_id"]["S"]] += int(line["points"]["N"])
        over = {member: points for member, points in by_member.items() if points > CAMPAIGN_MEMBER_MAX}
        if over or sum(by_member.values()) > CAMPAIGN_BUDGET:
            violations.append(f"campaign limits exceeded: {over or sum(by_member.values())}")
        self.outcome.checks["campaign limits kept"] = len(by_member)
        self._ledger, self._members = ledger, members

    def _stock(self) -> int:
        item = self.dynamodb.get_item(TableName="CatalogTable", Key={"pk": {"S": "REWARD"}, "sk": {"S": REWARD["reward_id"]}},
                                      ConsistentRead=True)["Item"]
        return int(item["stock"]["N"])

    def check_report(self) -> None:
        from loyalty.program import load_program
        from loyalty.settings import DEFAULT_PROGRAM_FILE

        zone = load_program(DEFAULT_PROGRAM_FILE).time_zone
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo(zone)).date()
        start, end = today - timedelta(days=1), today + timedelta(days=1)
        status, report, _ = self.call("report", _event("GET", "/v1/reports/program", scopes=ADMIN,
                                                       query={"from": start.isoformat(), "to": end.isoformat()}))
        entries = [entry for member in self._ledger.values() for entry in member]

        def amount(kind: str) -> int:
            return sum(int(entry.get("amount_minor", {}).get("N", 0)) for entry in entries if entry["type"]["S"] == kind)

        brute = {
            "enrollments": len(self._members),
            "purchases": sum(1 for entry in entries if entry["type"]["S"] == "earn"),
            "revenue_minor": amount("earn"),
            "active_members": len({entry["member_id"]["S"] for entry in entries if entry["type"]["S"] == "earn"}),
            "outstanding_points": sum(int(entry["points"]["N"]) for entry in entries),
            "points_redeemed": sum(-int(entry["points"]["N"]) for entry in entries if entry["type"]["S"] == "redeem")
            - sum(int(entry["points"]["N"]) + int(entry.get("points_forfeited", {}).get("N", 0))
                  for entry in entries if entry["type"]["S"] == "cancel"),
        }
        found = {name: report.get(name) for name in brute} if status == 200 else {"status": status, "body": report}
        if found != brute:
            self.outcome.violations.append(f"report {found} != brute force {brute}")
        self.outcome.checks["report == brute-force count"] = len(brute)

    def deliver_events(self, bus: str, received: Callable[[], list[dict]],
                       sleep: Callable[[float], None] | None = None) -> None:
        """Publish the ledger's stream to `bus` through the faulty publisher (an operator replays each dead-lettered
        batch once the bus is well), then check that every entry's event arrived."""
        import boto3

        from loyalty import events
        from loyalty.store.faults import attach
        from ops import replay_events

        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        arn = self.dynamodb.describe_table(TableName="LedgerTable")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = [replay_events._as_lambda_delivers(r, arn) for r in streams.get_records(ShardIterator=iterator)["Records"]]
        publisher = events.Publisher(bus, region="us-east-1", **({"sleep": sleep} if sleep else {}))
        attach(self.injector, publisher.client())
        self.injector.enabled = True

        def publish(batch: list[dict]) -> None:
            publisher.publish(events.from_stream(batch), lambda line: None)

        def replay(batch: list[dict]) -> None:
            self.injector.enabled = False
            message = {"DDBStreamBatchInfo": {"streamArn": arn, "shardId": shard, "batchSize": len(batch),
                                              "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                                              "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"]}}
            publisher.publish(replay_events.dead_lettered_events(message, streams, self.dynamodb, "LedgerTable").events,
                              lambda line: None)
            self.injector.enabled = True

        self.check_events(publish, replay, received, records)
        self.injector.enabled = False
        self.outcome.injected = self.injector.summary()

    def check_events(self, publish: Callable[[list[dict]], None], replay: Callable[[list[dict]], None],
                     received: Callable[[], list[dict]], records: list[dict]) -> None:
        """The ledger's stream through a faulty publisher in batches of 100; a failed batch is dead-lettered and
        replayed; every entry's event must have arrived (counted once, by event_id)."""
        from loyalty import events

        for start in range(0, len(records), 100):
            batch = records[start:start + 100]
            try:
                publish(batch)
            except events.EventsNotAccepted:
                self.outcome.batches_dead_lettered += 1
                replay(batch)
        delivered = {message["detail"]["event_id"] for message in received()}
        wanted = {event.detail["event_id"] for member in self._ledger.values() for entry in member
                  for event in events.from_ledger_item(entry)}  # the entries that announce something (not bonuses)
        missing = wanted - delivered
        if missing:
            kinds = Counter(entry["type"]["S"] for member in self._ledger.values() for entry in member
                            if events.ledger_event_id(_plain(entry)) in missing)
            self.outcome.violations.append(f"{len(missing)} ledger events never delivered ({dict(kinds)}; "
                                           f"{len(records)} stream records, {len(delivered)} delivered)")
        self.outcome.events_delivered = len(delivered)
        self.outcome.checks["every entry's event delivered"] = len(wanted)


def _plain(item: dict) -> dict:
    return {"member_id": item["member_id"]["S"], "entry_key": item["entry_key"]["S"]}


def report(outcome: Outcome, plan: str, out: Callable[[str], None] = print) -> None:
    out(f"chaos run: seed {outcome.seed}, plan {plan!r}")
    out(f"  requests {outcome.requests}, calls to the functions {outcome.attempts}; statuses {dict(sorted(outcome.statuses.items(), key=str))}")
    out(f"  injected: {json.dumps(outcome.injected, sort_keys=True)}")
    out(f"  requests served without a 5xx on their first call (after the SDK's retries): {outcome.share_served():.1%}; "
        f"answered 2xx in the end: {outcome.final_2xx / max(outcome.requests, 1):.1%}")
    out(f"  events delivered {outcome.events_delivered}; stream batches dead-lettered and replayed {outcome.batches_dead_lettered}")
    for name, count in outcome.checks.items():
        out(f"  checked: {name} ({count})")
    out(f"  violations: {len(outcome.violations)}" + "".join(f"\n    - {v}" for v in outcome.violations[:10]))


# ------------------------------------------------------------ make bench

BENCH_SEED = 21
BENCH_OPERATIONS = 150  # moto in-process copies every table on each transaction: memory grows with the run
BENCH_PLAN = (f"seed={BENCH_SEED};dynamodb.*=throttle:0.06,conflict:0.04,lost:0.03,reset:0.03,internal:0.02;"
              "eventbridge.PutEvents=partial:0.15,throttling:0.05")  # 18% of DynamoDB calls, 20% of PutEvents


def main() -> int:
    """The larger run, with the SDK's retries as shipped (3 attempts): the share of requests they serve is printed."""
    import base64
    import os

    from benchmarks.environment import LambdaContext, load_function, queue_on_bus, use_environment, verdict

    use_environment(CATALOG_CACHE_SECONDS="0", CAMPAIGN_CACHE_SECONDS="0")
    import boto3
    from moto import mock_aws
    from moto.core.models import botocore_stubber

    from loyalty.seed import seed_demo
    from loyalty.store.faults import FaultInjector, FaultPlan, install
    from loyalty_local.template import create_tables

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(dynamodb)
        seed_demo("CatalogTable", "us-east-1")
        received = queue_on_bus("chaos")
        injector = FaultInjector(FaultPlan.parse(BENCH_PLAN), transport=botocore_stubber)
        uninstall = install(injector)

        def call(function: str, event: dict):
            response = load_function(function).lambda_handler(event, LambdaContext(function_name=function))
            if "routeKey" not in event:
                return 200, response, {}
            body = response.get("body") or "null"
            if response.get("isBase64Encoded"):
                body = base64.b64decode(body).decode()
            return response["statusCode"], json.loads(body), response.get("headers") or {}

        run = ChaosRun(call, injector, dynamodb, seed=BENCH_SEED, operations=BENCH_OPERATIONS)
        outcome = run.run()
        run.deliver_events("chaos", received)
        uninstall()
    report(outcome, BENCH_PLAN)
    os.environ.pop("LOCAL_EVENTS_FILE", None)
    missed = [f"{len(outcome.violations)} invariant violations"] if outcome.violations else []
    return verdict(missed)


if __name__ == "__main__":
    raise SystemExit(main())
