"""The store base's writes and their failures: a transaction whose every condition says what its failure means,
batched reads with backoff, and the one classification of DynamoDB errors (retry, or an operator's alarm).

DynamoDB failures become domain-level signals here: a lost race (`LostRace`, the caller reloads and decides
again), a taken uniqueness marker, or `errors.Busy` when DynamoDB throttles or fails (nothing was written; safe
to retry); `errors.StoreRejected` when no retry can succeed.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import (
    DoesNotExist,
    PynamoDBException,
    TransactWriteError,
)
from pynamodb.transactions import TransactWrite

from loyalty.domain import errors

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    pass

BATCH_GET_LIMIT = 100


_ENTROPY = random.SystemRandom()


def full_jitter(delay: float) -> float:
    """A wait drawn uniformly from [0, delay], from os.urandom at each call: copies of one SnapStart snapshot share
    the module `random`'s state, so instances throttled or racing together would back off in step."""
    return _ENTROPY.uniform(0, delay)


@dataclass(frozen=True)
class Backoff:
    """How long to wait before sending again the keys a BatchGetItem left unprocessed (DynamoDB throttled
    them): exponential from `first`, capped at `cap`, with full jitter; `attempts` sends in all, then busy."""

    first: float = 0.025
    cap: float = 0.5
    attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float], float] = full_jitter

    def delay(self, retry: int) -> float:
        """The wait before the `retry`-th resend (0 for the first)."""
        return self.jitter(min(self.cap, self.first * 2 ** retry))


BatchSend = Callable[[dict], dict]  # BatchGetItem's RequestItems -> its response


def batch_get_all(send: BatchSend, wanted: dict[str, dict], backoff: Backoff) -> dict[str, list[dict]]:
    """Every item of `wanted` ({table: {"Keys": [...], "ConsistentRead": ...}}) in BatchGetItems of at most 100 keys,
    sending the unprocessed keys again after a backoff; `errors.Busy` when some are still unprocessed after
    `backoff.attempts` sends (throttling: a retry later can succeed)."""
    found: dict[str, list[dict]] = defaultdict(list)
    flat = [(table, key) for table, request in wanted.items() for key in request["Keys"]]
    for offset in range(0, len(flat), BATCH_GET_LIMIT):
        pending: dict[str, dict] = {}
        for table, key in flat[offset:offset + BATCH_GET_LIMIT]:
            pending.setdefault(table, {**wanted[table], "Keys": []})["Keys"].append(key)
        for attempt in range(backoff.attempts):
            if attempt:
                backoff.sleep(backoff.delay(attempt - 1))
            response = send(pending)
            for table, items in response.get("Responses", {}).items():
                found[table].extend(items)
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        if pending:
            raise errors.Busy("the database is busy; nothing was written, please retry", cause="UnprocessedKeys")
    return found


class LostRace(Exception):
    """Another request changed the member (or wrote the same key) first: reload and decide again."""


class ReferralCodeTaken(Exception):
    pass


# What a retry can fix: throttling, a conflict with another transaction, DynamoDB's own transient failures.
RETRYABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "LimitExceededException",
    "TransactionConflictException", "TransactionInProgressException", "InternalServerError", "ServiceUnavailable",
    "RequestTimeout", "RequestTimeoutException",
})


# The same, as a transaction's cancellation reasons name them.
RETRYABLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})


def response_code(error: PynamoDBException) -> str | None:
    """DynamoDB's error code, or None when it never answered (a connection error: pynamodb's own
    `cause_response_code` raises AttributeError on those)."""
    return error.cause.response.get("Error", {}).get("Code") if isinstance(error.cause, ClientError) else None


def retryable(cause: BaseException | None) -> bool:
    """Whether a retry can succeed: a connection that failed or timed out (no answer), a throttle, a conflict, or a
    5xx; not a request DynamoDB refuses as it is (ValidationException: an item over 400 KB; a missing table...)."""
    if not isinstance(cause, ClientError):
        return True  # botocore's connection and timeout errors: DynamoDB never answered
    code = cause.response.get("Error", {}).get("Code")
    if code == "TransactionCanceledException":
        reasons = {reason.get("Code") for reason in cause.response.get("CancellationReasons", [])} - {"None", None}
        return bool(reasons) and reasons <= RETRYABLE_REASONS
    status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in RETRYABLE_CODES or status >= 500


def busy(error: PynamoDBException | BotoCoreError | ClientError) -> errors.DomainError:
    """The domain error for a failed DynamoDB call (pynamodb's, or botocore's own): `Busy` (503, retry) when a retry
    can fix it, `StoreRejected` (500, an operator's alarm) when no retry can."""
    cause = error.cause if isinstance(error, PynamoDBException) else error
    code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
    if retryable(cause):
        return errors.Busy("the database is busy; nothing was written, please retry", cause=code or type(cause).__name__)
    operation = str(error.msg) if isinstance(error, PynamoDBException) else cause.operation_name
    return errors.StoreRejected("the database refused the request; nothing was written", operation=operation,
                                cause=code, reason=cause.response.get("Error", {}).get("Message"))


@dataclass(frozen=True)
class Meaning:
    """What a failed condition of a write means. When several fail in one transaction the lowest rank
    wins. A lost race outranks a refusal (out of stock, limit reached): the write was decided on a stale read,
    and it may be this request's own write, applied by a try whose answer was lost; the reread then finds it
    and answers it as the first try would have. A refusal that still holds is met again on the next try."""

    rank: int
    raise_: Callable[[], Exception]


def already_enrolled() -> Exception:
    return errors.AlreadyEnrolled("this email or account is already enrolled")


ALREADY_ENROLLED = Meaning(0, already_enrolled)  # Loyalty.enroll tells its own lost answer from another's e-mail


LOST_RACE = Meaning(1, LostRace)


REFERRAL_CODE_TAKEN = Meaning(3, ReferralCodeTaken)


class Transaction:
    """A TransactWrite whose every conditional write says what its failure means (no positional mapping)."""

    def __init__(self, writes: TransactWrite) -> None:
        self.writes = writes
        # pynamodb sends every delete before every put and every put before every update, whatever order
        # they were added in; the cancellation reasons come in the order sent.
        self.delete_meanings: list[Meaning | None] = []
        self.put_meanings: list[Meaning | None] = []
        self.update_meanings: list[Meaning | None] = []

    def save(self, record, condition, meaning: Meaning) -> None:
        self.writes.save(record, condition=condition)
        self.put_meanings.append(meaning)

    def delete(self, record, condition, meaning: Meaning) -> None:
        self.writes.delete(record, condition=condition)
        self.delete_meanings.append(meaning)

    def update(self, record, actions, condition=None, meaning: Meaning | None = None) -> None:
        self.writes.update(record, actions=actions, condition=condition)
        self.update_meanings.append(meaning)

    def failure(self, error: TransactWriteError) -> Exception:
        reasons = error.cancellation_reasons or []
        failed = [
            meaning for meaning, reason in zip(self.delete_meanings + self.put_meanings + self.update_meanings, reasons, strict=False)
            if meaning is not None and reason is not None and reason.code == "ConditionalCheckFailed"
        ]
        if failed:
            return min(failed, key=lambda meaning: meaning.rank).raise_()
        codes = {reason.code for reason in reasons if reason is not None}
        if response_code(error) == "TransactionConflictException" or "TransactionConflict" in codes:
            return LostRace()
        return busy(error)


RequestHook = Callable[[str, dict], None]  # (operation, request parameters)


def hook_requests(models: Iterable, hook: RequestHook) -> None:
    """Call `hook(operation, params)` before each DynamoDB request of `models`: once per request, however many of them
    share a client (store/models.py's `share_client`) and however often the same hook is given."""
    for model in models:
        model._get_connection().connection.client.meta.events.register(
            "provide-client-params.dynamodb.*", lambda params, model, **_: hook(model.name, params),
            unique_id=f"loyalty-request-hook-{id(hook)}",
        )


def found(future, convert):
    """A TransactGet result converted, or None when the item does not exist."""
    try:
        return convert(future.get())
    except DoesNotExist:
        return None


def encode_cursor(last_evaluated_key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_evaluated_key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, member_id: str, low: str | None, high: str | None) -> dict:
    """A cursor this list returned: the index's key, all strings, for this member and inside the window."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        valid = (
            isinstance(key, dict) and set(key) == {"member_id", "entry_key", "created_seq"}
            and all(isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) and value["S"]
                    for value in key.values())
            and key["member_id"]["S"] == member_id
            and (low is None or key["created_seq"]["S"] >= low) and (high is None or key["created_seq"]["S"] < high)
        )
    except (ValueError, TypeError, binascii.Error):
        valid = False
    if not valid:
        raise errors.InvalidCursor("the cursor is not one this list returned")
    return key
