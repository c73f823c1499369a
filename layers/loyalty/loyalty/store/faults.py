"""A fault injector below the store: AWS misbehaving on purpose, for tests, benchmarks and `make run FAULTS=...`.

It is a botocore `before-send` handler, so it sits under the SDK's own retries: each attempt the SDK
makes draws again, exactly as a throttled or dropped call would. Nothing in the shipped functions
refers to it; it is installed from outside (the local runtime's worker, a test, a benchmark):

- `install(injector)` adds it to every botocore client created afterwards in this process (the way
  moto's in-process mock is installed); `attach(injector, client)` to one existing client.
- With moto in-process, pass moto's own `before-send` handler as `transport`: the injector takes its
  place and decides whether a call reaches it (a throttle must not be applied, a lost response must).

Faults (`KINDS`), each drawn with its own probability per service and operation, from a seeded random:

  throttle   ProvisionedThroughputExceededException (400), not applied
  throttling ThrottlingException (400), not applied
  limit      RequestLimitExceeded (400), not applied
  conflict   TransactWriteItems/TransactGetItems: TransactionCanceledException with a TransactionConflict reason;
             PutItem, UpdateItem, DeleteItem: TransactionConflictException (never drawn for reads). Not applied
  internal   InternalServerError (500), not applied
  reset      the connection is reset before the request left: not applied, the client sees a connection error
  lost       the call is applied, then the connection drops: the client sees an error for a write that happened
  partial    EventBridge PutEvents only: some entries accepted (delivered), the others failed (FailedEntryCount)
  too_large  ValidationException "Item size has exceeded the maximum allowed size" (400): a permanent failure

A plan is written `seed=7;dynamodb.TransactWriteItems=throttle:0.1,lost:0.05;events.PutEvents=partial:0.2;*=reset:0.01`:
the operation is `<service>.<Operation>`, `<service>.*` or `*`; the first rule that names a call applies.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError

NOT_APPLIED_ERRORS = {  # kind -> (HTTP status, error code, message), as DynamoDB, EventBridge and SQS answer them
    "throttle": (400, "ProvisionedThroughputExceededException",
                 "The level of configured provisioned throughput for the table was exceeded."),
    "throttling": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "limit": (400, "RequestLimitExceeded", "Throughput exceeds the current throughput limit for your account."),
    "internal": (500, "InternalServerError", "Internal server error"),
    "too_large": (400, "ValidationException", "Item size has exceeded the maximum allowed size"),
}
KINDS = (*NOT_APPLIED_ERRORS, "conflict", "reset", "lost", "partial")
TRANSACTIONS = {"TransactWriteItems", "TransactGetItems"}
CONFLICTING = TRANSACTIONS | {"PutItem", "UpdateItem", "DeleteItem"}

Transport = Callable[..., "AWSResponse | None"]  # a before-send handler that answers a request (moto's), or None


class FaultPlanError(ValueError):
    """A FAULTS plan that cannot be read."""


@dataclass(frozen=True)
class Rule:
    pattern: str  # "<service>.<Operation>" with * wildcards, or "*"
    faults: tuple[tuple[str, float], ...]  # (kind, probability), drawn in this order


@dataclass(frozen=True)
class FaultPlan:
    seed: int
    rules: tuple[Rule, ...]

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        seed, rules = 0, []
        for part in filter(None, (piece.strip() for piece in text.split(";"))):
            name, sep, value = part.partition("=")
            if not sep:
                raise FaultPlanError(f"{part!r}: expected <operation>=<kind>:<probability>,... or seed=<n>")
            name = name.strip()
            if name == "seed":
                try:
                    seed = int(value)
                except ValueError:
                    raise FaultPlanError(f"seed {value!r} is not an integer") from None
                continue
            faults = []
            for item in filter(None, (piece.strip() for piece in value.split(","))):
                kind, _, probability = item.partition(":")
                if kind not in KINDS:
                    raise FaultPlanError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
                try:
                    p = float(probability)
                except ValueError:
                    raise FaultPlanError(f"{item!r}: the probability must be a number") from None
                if not 0 <= p <= 1:
                    raise FaultPlanError(f"{item!r}: the probability must be between 0 and 1")
                faults.append((kind, p))
            if sum(p for _, p in faults) > 1:
                raise FaultPlanError(f"{name}: the probabilities add up to more than 1")
            rules.append(Rule(name, tuple(faults)))
        return cls(seed, tuple(rules))

    @classmethod
    def of(cls, seed: int, rules: dict[str, dict[str, float]]) -> FaultPlan:
        """A plan from Python values: {"dynamodb.TransactWriteItems": {"throttle": 0.1}}."""
        return cls.parse(";".join([f"seed={seed}", *(f"{name}=" + ",".join(f"{kind}:{p}" for kind, p in faults.items())
                                                     for name, faults in rules.items())]))

    def faults_for(self, service: str, operation: str) -> tuple[tuple[str, float], ...]:
        call = f"{service}.{operation}"
        for rule in self.rules:
            if fnmatchcase(call, rule.pattern):
                return rule.faults
        return ()


class _Raw:
    """The raw body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_) -> Iterable[bytes]:
        yield self.body


def _json_response(request, status: int, body: dict) -> AWSResponse:
    headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "fault-injected"}
    if status >= 400:  # SQS reads its error code from this header first
        headers["x-amzn-query-error"] = f"{body['__type'].rsplit('#', 1)[-1]};Sender"
    return AWSResponse(request.url, status, headers, _Raw(json.dumps(body).encode()))


def _error(request, status: int, code: str, message: str, **extra) -> AWSResponse:
    return _json_response(request, status, {"__type": f"com.amazonaws.fault#{code}", "message": message, **extra})


@dataclass
class FaultInjector:
    """Draws faults by `plan` for each HTTP attempt of a client it is installed on; counts what it injected."""

    plan: FaultPlan
    transport: Transport | None = None  # who answers a request that goes through (None: botocore sends it itself)
    enabled: bool = True
    injected: Counter = field(default_factory=Counter)  # (service.Operation, kind) -> times
    calls: Counter = field(default_factory=Counter)  # service.Operation -> attempts seen

    def __post_init__(self) -> None:
        self._random = random.Random(self.plan.seed)
        self._lock = threading.Lock()
        self._scripted: list[tuple[str, str]] = []  # (pattern, kind): the next calls that match get these, in order

    def script(self, pattern: str, *kinds: str) -> FaultInjector:
        """Give the next calls matching `pattern` ("dynamodb.TransactWriteItems") these faults, one each, before
        the plan's draws: a test's exact sequence ("lost" once, then whatever the plan says)."""
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown:
            raise FaultPlanError(f"unknown fault {unknown[0]!r}")
        with self._lock:
            self._scripted += [(pattern, kind) for kind in kinds]
        return self

    def __call__(self, event_name: str = "", request=None, **kwargs) -> AWSResponse | None:
        _, service, operation = (event_name.split(".") + ["", ""])[:3]
        kind = self._draw(service, operation) if self.enabled else None
        if kind is None:
            return self._send(request, event_name, kwargs, deliver=False)
        if kind in NOT_APPLIED_ERRORS:
            return _error(request, *NOT_APPLIED_ERRORS[kind])
        if kind == "conflict":
            return self._conflict(request, operation)
        if kind == "reset":
            raise ConnectionClosedError(endpoint_url=request.url, request=request)
        if kind == "lost":
            self._send(request, event_name, kwargs, deliver=True)
            raise ConnectionClosedError(endpoint_url=request.url, request=request)
        return self._partial(request, event_name, kwargs)

    def _draw(self, service: str, operation: str) -> str | None:
        faults = self.plan.faults_for(service, operation)
        if operation != "PutEvents":
            faults = tuple((kind, p) for kind, p in faults if kind != "partial")
        if operation not in CONFLICTING:  # DynamoDB reports transaction conflicts on writes and transactions only
            faults = tuple((kind, p) for kind, p in faults if kind != "conflict")
        call = f"{service}.{operation}"
        with self._lock:
            self.calls[call] += 1
            for index, (pattern, kind) in enumerate(self._scripted):
                if fnmatchcase(call, pattern):
                    del self._scripted[index]
                    self.injected[(call, kind)] += 1
                    return kind
            roll = self._random.random()
            for kind, probability in faults:
                if roll < probability:
                    self.injected[(call, kind)] += 1
                    return kind
                roll -= probability
        return None

    def _send(self, request, event_name: str, kwargs: dict, *, deliver: bool) -> AWSResponse | None:
        """The request answered for real: by the transport, or when `deliver`, sent here (a lost response must be
        applied before the error); otherwise None lets botocore send it."""
        if self.transport is not None:
            return self.transport(event_name=event_name, request=request, **kwargs)
        if not deliver:
            return None
        from botocore.httpsession import URLLib3Session

        return URLLib3Session().send(request)

    def _conflict(self, request, operation: str) -> AWSResponse:
        if operation not in TRANSACTIONS:
            return _error(request, 400, "TransactionConflictException", "Transaction is ongoing for the item")
        items = json.loads(request.body or b"{}").get("TransactItems", [])
        reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
        reasons += [{"Code": "None"}] * (len(items) - 1)
        return _error(request, 400, "TransactionCanceledException",
                      "Transaction cancelled, please refer cancellation reasons for specific reasons "
                      f"[{', '.join(reason['Code'] for reason in reasons)}]", CancellationReasons=reasons)

    def _partial(self, request, event_name: str, kwargs: dict) -> AWSResponse:
        """Some entries of a PutEvents delivered, the others refused, as EventBridge does under pressure."""
        body = json.loads(request.body)
        entries = body["Entries"]
        with self._lock:
            failed = set(self._random.sample(range(len(entries)), self._random.randint(1, len(entries))))
        accepted = [entry for index, entry in enumerate(entries) if index not in failed]
        answered: list[dict] = []
        if accepted:
            request.body = json.dumps({**body, "Entries": accepted}).encode()
            request.headers["Content-Length"] = str(len(request.body))
            response = self._send(request, event_name, kwargs, deliver=True)
            answered = json.loads(response.content)["Entries"]
        results, delivered = [], iter(answered)
        for index in range(len(entries)):
            results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected partial failure"} if index in failed
                           else next(delivered))
        return _json_response(request, 200, {"FailedEntryCount": len(failed), "Entries": results})

    def summary(self) -> dict[str, dict[str, int]]:
        """What was injected, by operation and kind."""
        found: dict[str, dict[str, int]] = {}
        for (operation, kind), count in sorted(self.injected.items()):
            found.setdefault(operation, {})[kind] = count
        return found


def attach(injector: FaultInjector, client) -> None:
    """Inject faults into one botocore client's calls (first among its before-send handlers)."""
    if injector.transport is not None:
        client.meta.events.unregister("before-send", injector.transport)
    client.meta.events.register_first("before-send", injector)


def install(injector: FaultInjector, replacing: Transport | None = None) -> Callable[[], None]:
    """Inject faults into every botocore client created from now on in this process; returns the uninstall.

    A transport among botocore's built-in handlers (moto's in-process mock: `replacing`, by default the
    injector's transport) is replaced by the injector, which reaches it through its own transport; clients
    created meanwhile keep the injector, disabled by the uninstall.
    """
    from botocore.handlers import BUILTIN_HANDLERS

    entry = ("before-send", injector)
    replaced = None
    target = replacing or injector.transport
    for index, (event, handler, *_) in enumerate(BUILTIN_HANDLERS):
        if event == "before-send" and handler is target and handler is not None:
            replaced = (index, BUILTIN_HANDLERS[index])
            BUILTIN_HANDLERS[index] = entry
            break
    else:
        BUILTIN_HANDLERS.append(entry)

    def uninstall() -> None:
        injector.enabled = False
        if replaced is not None:
            BUILTIN_HANDLERS[replaced[0]] = replaced[1]
        elif entry in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(entry)

    return uninstall
