"""The store operations the use cases need, each one DynamoDB round trip (a report's reads are batched).

DynamoDB failures become domain-level signals here: a lost race (`LostRace`, the caller reloads
and decides again), a taken uniqueness marker, or `errors.Busy` when DynamoDB throttles or fails
(nothing was written; safe to retry). The store decides nothing: what to write, the counters that
move and what the jobs' indexes list are computed by the domain and handed in.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import (
    DoesNotExist,
    GetError,
    PynamoDBException,
    QueryError,
    TransactGetError,
    TransactWriteError,
)
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactGet, TransactWrite

from loyalty.domain import errors
from loyalty.domain.model import BLOCKED, Consent, Entry, EntryRef, Member, Redemption, Reward, Voucher
from loyalty.domain.rules import Change, JobSchedule, ProfileUpdate
from loyalty.domain.stats import CUMULATED, CUMULATIVE, DAY, ROLLUP, TOTAL, Bucket, Counters
from loyalty.settings import ConfigurationError, DispatcherSettings, StoreSettings
from loyalty.store import keys
from loyalty.store.models import MemberModel, Tables, bind_members, bind_tables
from loyalty.store.records import (
    entry_from_record,
    entry_to_record,
    member_from_record,
    member_to_record,
    redemption_from_record,
    redemption_to_record,
    reward_from_record,
    voucher_from_record,
    voucher_to_record,
)

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    from loyalty.domain.campaigns import CounterKey, Increment, Usage

BATCH_GET_LIMIT = 100
DAY_COUNTER_KEPT = timedelta(days=7)  # a campaign's per-day counter outlives its day by this much (TTL), then goes
FIRST_DAY = "first_day"  # on each shard's total: the first day anything was counted there
ROLLED_THROUGH = "rolled_through"  # on the roll-up's marker: the last day its cumulative item was written for


@dataclass(frozen=True)
class Backoff:
    """How long to wait before sending again the keys a BatchGetItem left unprocessed (DynamoDB throttled
    them): exponential from `first`, capped at `cap`, with full jitter; `attempts` sends in all, then busy."""

    first: float = 0.025
    cap: float = 0.5
    attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float], float] = lambda delay: random.uniform(0, delay)  # noqa: E731 - a default collaborator

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


def _retryable(cause: BaseException | None) -> bool:
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


def _busy(error: PynamoDBException | BotoCoreError | ClientError) -> errors.DomainError:
    """The domain error for a failed DynamoDB call (pynamodb's, or botocore's own): `Busy` (503, retry) when a retry
    can fix it, `StoreRejected` (500, an operator's alarm) when no retry can."""
    cause = error.cause if isinstance(error, PynamoDBException) else error
    code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
    if _retryable(cause):
        return errors.Busy("the database is busy; nothing was written, please retry", cause=code or type(cause).__name__)
    operation = str(error.msg) if isinstance(error, PynamoDBException) else cause.operation_name
    return errors.StoreRejected("the database refused the request; nothing was written", operation=operation,
                                cause=code, reason=cause.response.get("Error", {}).get("Message"))


@dataclass(frozen=True)
class _Meaning:
    """What a failed condition of a write means. When several fail in one transaction the lowest rank
    wins. A lost race outranks a refusal (out of stock, limit reached): the write was decided on a stale read,
    and it may be this request's own write, applied by a try whose answer was lost; the reread then finds it
    and answers it as the first try would have. A refusal that still holds is met again on the next try."""

    rank: int
    raise_: Callable[[], Exception]


def _already_enrolled() -> Exception:
    return errors.AlreadyEnrolled("this email or account is already enrolled")


ALREADY_ENROLLED = _Meaning(0, _already_enrolled)  # Loyalty.enroll tells its own lost answer from another's e-mail
LOST_RACE = _Meaning(1, LostRace)
REFERRAL_CODE_TAKEN = _Meaning(3, ReferralCodeTaken)


def out_of_stock(reward: Reward) -> _Meaning:
    return _Meaning(2, lambda: errors.OutOfStock(f"{reward.name} is out of stock", reward_id=reward.reward_id))


def limit_reached(reward: Reward) -> _Meaning:
    return _Meaning(2, lambda: errors.RewardLimitReached(
        f"{reward.name} may be redeemed {reward.per_member_limit} time(s) per member",
        reward_id=reward.reward_id, per_member_limit=reward.per_member_limit,
    ))


class _Transaction:
    """A TransactWrite whose every conditional write says what its failure means (no positional mapping)."""

    def __init__(self, writes: TransactWrite) -> None:
        self.writes = writes
        # pynamodb sends every delete before every put and every put before every update, whatever order
        # they were added in; the cancellation reasons come in the order sent.
        self.delete_meanings: list[_Meaning | None] = []
        self.put_meanings: list[_Meaning | None] = []
        self.update_meanings: list[_Meaning | None] = []

    def save(self, record, condition, meaning: _Meaning) -> None:
        self.writes.save(record, condition=condition)
        self.put_meanings.append(meaning)

    def delete(self, record, condition, meaning: _Meaning) -> None:
        self.writes.delete(record, condition=condition)
        self.delete_meanings.append(meaning)

    def update(self, record, actions, condition=None, meaning: _Meaning | None = None) -> None:
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
        return _busy(error)


RequestHook = Callable[[str, dict], None]  # (operation, request parameters)


def _on_request(models: Iterable, hook: RequestHook) -> None:
    seen = set()
    for model in models:
        client = model._get_connection().connection.client
        if id(client) not in seen:
            seen.add(id(client))
            client.meta.events.register(
                "provide-client-params.dynamodb.*", lambda params, model, **_: hook(model.name, params)
            )


class Store:
    """The loyalty tables of one deployment."""

    def __init__(self, tables: Tables, *, job_shards: int, stats_shards: int, backoff: Backoff | None = None) -> None:
        self.tables = tables
        self.job_shards = job_shards
        self.stats_shards = stats_shards
        self.backoff = backoff or Backoff()

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> Store:
        tables = bind_tables(
            members=settings.members_table, ledger=settings.ledger_table, stats=settings.stats_table,
            catalog=settings.catalog_table, region=settings.aws_region, host=settings.aws_endpoint_url_dynamodb,
        )
        for model in tables.models():
            model.Meta.max_retry_attempts = settings.dynamodb_max_attempts - 1
        return cls(tables, job_shards=settings.job_shards, stats_shards=settings.stats_shards)

    def _connection(self):
        return self.tables.members._get_connection().connection

    def on_request(self, hook: RequestHook) -> None:
        """Call `hook(operation, params)` before each DynamoDB request of this store (tests and benchmarks count them)."""
        _on_request(self.tables.models(), hook)

    @property
    def _rewards(self):
        if self.tables.rewards is None:
            raise ConfigurationError("this function was given no CATALOG_TABLE")
        return self.tables.rewards

    def campaign_shard(self, member_id: str) -> int:
        """The shard of a campaign's counters in all that a member's purchases take from first."""
        from loyalty.domain.campaigns import CAMPAIGN_SHARDS  # only the earn function loads the campaign engine

        return keys.shard_of(member_id, CAMPAIGN_SHARDS)

    # -------------------------------------------------------------- reads

    def get_member(self, member_id: str) -> Member | None:
        try:
            return member_from_record(self.tables.members.get(keys.member_pk(member_id), consistent_read=True))
        except DoesNotExist:
            return None
        except GetError as error:
            raise _busy(error) from error

    def get_member_and_entries(self, member_id: str, refs: Iterable[EntryRef]) -> tuple[Member | None, dict[EntryRef, Entry]]:
        """The member and some of its ledger entries, read consistently in one round trip."""
        member, entries, _ = self._read_member(member_id, refs)
        return member, entries

    def get_for_earn(
        self, member_id: str, refs: Iterable[EntryRef], counters: Iterable[CounterKey],
    ) -> tuple[Member | None, dict[EntryRef, Entry], dict[CounterKey, Usage]]:
        """The member, some of its entries and campaign limit counters (a missing one is zero): one round trip.

        Consistent BatchGetItems of at most 100 keys (one when the counters are few: a counter in all is one key
        per shard, domain.campaigns.stored_keys), at half the capacity of a transactional read. It does not read the items as one snapshot: a purchase
        written meanwhile makes the earn's conditions fail (member version, entry key, counter ceilings) and the
        earn reads again, so nothing is decided on a torn read.
        """
        from loyalty.domain.campaigns import Usage  # here: only the earn function loads the campaign engine

        members, entries, counter_model = self.tables.members, self.tables.entries, self.tables.campaign_counters
        member_key = keys.member_pk(member_id)
        entry_refs = {keys.entry_key(ref): ref for ref in refs}
        counter_keys = {keys.campaign_counter(key, member_id): key for key in counters}
        wanted = {
            members.Meta.table_name: [{"pk": {"S": member_key}}],
            entries.Meta.table_name: [{"member_id": {"S": member_id}, "entry_key": {"S": key}} for key in entry_refs],
            counter_model.Meta.table_name: [{"pk": {"S": key}} for key in counter_keys],
        }
        found = self._batch_get({table: keys_ for table, keys_ in wanted.items() if keys_})
        member, read_entries, usage = None, {}, {}
        for item in found.get(members.Meta.table_name, []):
            member = member_from_record(members.from_raw_data(item))
        for item in found.get(entries.Meta.table_name, []):
            read_entries[entry_refs[item["entry_key"]["S"]]] = entry_from_record(entries.from_raw_data(item))
        for item in found.get(counter_model.Meta.table_name, []):
            record = counter_model.from_raw_data(item)
            usage[counter_keys[record.pk]] = Usage(points=int(record.points or 0), times=int(record.times or 0))
        return member, read_entries, usage

    def _batch_get(self, wanted: dict[str, list[dict]], consistent: bool = True) -> dict[str, list[dict]]:
        """Raw items of several tables in BatchGetItems of 100 keys (again, after a backoff, for keys DynamoDB left
        unprocessed)."""
        client = self._connection().client

        def send(request_items: dict) -> dict:
            try:
                return client.batch_get_item(RequestItems=request_items)
            except (ClientError, BotoCoreError) as error:
                raise _busy(error) from error

        requests = {table: {"Keys": keys_, "ConsistentRead": consistent} for table, keys_ in wanted.items()}
        return batch_get_all(send, requests, self.backoff)

    def get_for_redemption(self, member_id: str, ref: EntryRef, reward_id: str) -> tuple[Member | None, Entry | None, int]:
        """The member, the redemption entry of `ref` if written, and how often the member redeemed the reward: one round trip."""
        member, entries, count = self._read_member(member_id, [ref], keys.redemption_count(member_id, reward_id))
        return member, entries.get(ref), count

    def _read_member(
        self, member_id: str, refs: Iterable[EntryRef], count_key: str | None = None,
    ) -> tuple[Member | None, dict[EntryRef, Entry], int]:
        try:
            with TransactGet(connection=self._connection()) as reads:
                member_future = reads.get(self.tables.members, keys.member_pk(member_id))
                entry_futures = {ref: reads.get(self.tables.entries, member_id, keys.entry_key(ref)) for ref in refs}
                count_future = reads.get(self.tables.redemption_counts, count_key) if count_key else None
        except TransactGetError as error:
            if response_code(error) == "TransactionCanceledException":
                raise LostRace() from error  # a write to one of these items was in flight
            raise _busy(error) from error
        try:
            member = member_from_record(member_future.get())
        except DoesNotExist:
            member = None
        entries = {}
        for ref, future in entry_futures.items():
            try:
                entries[ref] = entry_from_record(future.get())
            except DoesNotExist:
                pass
        try:
            count = int(count_future.get().count) if count_future else 0
        except DoesNotExist:
            count = 0
        return member, entries, count

    def get_for_cancel(self, member_id: str, redemption_id: str) -> tuple[Member | None, Redemption | None, Entry | None]:
        """The member, the redemption of that id and its cancel entry if written: one consistent round trip."""
        try:
            with TransactGet(connection=self._connection()) as reads:
                member = reads.get(self.tables.members, keys.member_pk(member_id))
                redemption = reads.get(self.tables.redemptions, keys.redemption_pk(member_id, redemption_id))
                cancel = reads.get(self.tables.entries, member_id, keys.entry_key(EntryRef("cancel", redemption_id)))
        except TransactGetError as error:
            if response_code(error) == "TransactionCanceledException":
                raise LostRace() from error
            raise _busy(error) from error
        return (_found(member, member_from_record), _found(redemption, redemption_from_record),
                _found(cancel, entry_from_record))

    def member_id_for_referral_code(self, code: str) -> str | None:
        return self._marked_member_id(keys.referral_marker(code))

    def member_id_for_sub(self, sub: str) -> str | None:
        """The live member enrolled with a token subject (erasure deletes the marker with the profile)."""
        return self._marked_member_id(keys.sub_marker(sub), consistent_read=True)

    def member_id_for_email(self, email_hash: str) -> str | None:
        """The member holding an e-mail's uniqueness marker (read consistently: an enrollment just made is found)."""
        return self._marked_member_id(keys.email_marker(email_hash), consistent_read=True)

    def _marked_member_id(self, marker: str, consistent_read: bool = False) -> str | None:
        try:
            return self.tables.markers.get(marker, consistent_read=consistent_read).member_id
        except DoesNotExist:
            return None
        except GetError as error:
            raise _busy(error) from error

    def activity(
        self, member_id: str, limit: int, cursor: str | None, since: datetime | None = None, until: datetime | None = None,
    ) -> tuple[list[Entry], str | None]:
        """A page of the member's ledger, newest first, optionally recorded in [since, until)."""
        entries_model = self.tables.entries
        low = keys.time_key(since) if since else None
        high = keys.time_key(until) if until else None
        start = _decode_cursor(cursor, member_id, low, high) if cursor else None
        if low and high:
            window = entries_model.created_seq.between(low, high)
        elif low:
            window = entries_model.created_seq >= low
        elif high:
            window = entries_model.created_seq < high
        else:
            window = None
        try:
            page = entries_model.by_time.query(
                member_id, window, scan_index_forward=False, limit=limit, last_evaluated_key=start
            )
            entries = [entry_from_record(record) for record in page]
        except QueryError as error:
            raise _busy(error) from error
        last = page.last_evaluated_key
        return entries, _encode_cursor(last) if last and len(entries) == limit else None

    def rewards(self) -> list[Reward]:
        try:
            return [reward_from_record(record) for record in self._rewards.query("REWARD")]
        except QueryError as error:
            raise _busy(error) from error

    # -------------------------------------------------------------- writes

    def create_member(self, change: Change, email_hash: str, schedule: JobSchedule, counters: Counters,
                      consent_by: str = "member") -> None:
        """Write a new member, its uniqueness markers, its first entries and its first consent in one transaction."""
        member, markers = change.member, self.tables.markers
        try:
            with TransactWrite(connection=self._connection()) as writes:
                transaction = _Transaction(writes)
                transaction.save(
                    member_to_record(member, self.tables.members, schedule, self.job_shards),
                    self.tables.members.pk.does_not_exist(), ALREADY_ENROLLED,
                )
                transaction.save(markers(keys.email_marker(email_hash), member_id=member.member_id),
                                 markers.pk.does_not_exist(), ALREADY_ENROLLED)
                if member.sub:
                    transaction.save(markers(keys.sub_marker(member.sub), member_id=member.member_id),
                                     markers.pk.does_not_exist(), ALREADY_ENROLLED)
                transaction.save(markers(keys.referral_marker(member.referral_code), member_id=member.member_id),
                                 markers.pk.does_not_exist(), REFERRAL_CODE_TAKEN)
                self._add_entries(transaction, change.entries)
                self._add_consent(transaction, member, member.enrolled_at, consent_by)
                self._add_counters(transaction, counters)
        except TransactWriteError as error:
            raise transaction.failure(error) from error

    def update_profile(self, update: ProfileUpdate, base_version: int, schedule: JobSchedule,
                       email_hashes: tuple[str, str] | None, consent_by: str) -> None:
        """Write a profile change in one transaction: the member only if unchanged since read; a new e-mail's marker
        only if free, its old one only if still this member's (so no moment has two members on one e-mail, or
        an e-mail free while a member holds it); a consent change's record."""
        member, members, markers = update.member, self.tables.members, self.tables.markers
        try:
            with TransactWrite(connection=self._connection()) as writes:
                transaction = _Transaction(writes)
                transaction.save(member_to_record(member, members, schedule, self.job_shards),
                                 members.version == base_version, LOST_RACE)
                if email_hashes:
                    old_hash, new_hash = email_hashes
                    transaction.delete(markers(keys.email_marker(old_hash)), markers.member_id == member.member_id,
                                       LOST_RACE)
                    transaction.save(markers(keys.email_marker(new_hash), member_id=member.member_id),
                                     markers.pk.does_not_exist(), ALREADY_ENROLLED)
                if update.consent_changed:
                    self._add_consent(transaction, member, member.profile_updated_at, consent_by)
        except TransactWriteError as error:
            raise transaction.failure(error) from error

    def _add_consent(self, transaction: _Transaction, member: Member, at: datetime, by: str) -> None:
        model = self.tables.consents
        record = model(member.member_id, keys.consent_key(at, member.version), marketing_opt_in=member.marketing_opt_in,
                       at=at, by=by)
        transaction.save(record, model.entry_key.does_not_exist(), LOST_RACE)

    def commit(
        self,
        change: Change,
        base_versions: dict[str, int],
        schedules: dict[str, JobSchedule],
        counters: Counters,
        purchase_update: tuple[Entry, int] | None = None,
        stock_reward: Reward | None = None,
        counted_reward: Reward | None = None,
        voucher: Voucher | None = None,
        redemption: Redemption | None = None,
        cancelled: Redemption | None = None,
        campaign_increments: Iterable[Increment] = (),
    ) -> None:
        """Write a change in one transaction: members only if unchanged since read, entries only if new.

        schedules: each member's job schedule (the index keys its item carries).
        purchase_update: an earn entry with its new refund totals and the refunded amount it was read with.
        stock_reward: a reward with limited stock, taken one off only while some is left.
        counted_reward: a reward the (one) member redeemed: its count for the member goes up by one, only while
            under the reward's per_member_limit.
        voucher: a redemption's voucher, new (a taken code is a lost race: the retry draws another).
        redemption: a new redemption, kept under its redemption_id for a cancel to find.
        cancelled: a redemption being cancelled: its voucher is cancelled only while issued, its stock comes back,
            and the member's count of its reward goes one down.
        campaign_increments: an earn's campaign counters (of the first member), each added only while it stays
            within its ceilings; a counter another purchase filled meanwhile is a lost race (reread, decide again).
        """
        members, entries, rewards = self.tables.members, self.tables.entries, self.tables.rewards
        try:
            with TransactWrite(connection=self._connection()) as writes:
                transaction = _Transaction(writes)
                for member in change.members:
                    transaction.save(
                        member_to_record(member, members, schedules[member.member_id], self.job_shards),
                        members.version == base_versions[member.member_id], LOST_RACE,
                    )
                self._add_entries(transaction, change.entries)
                if purchase_update:
                    purchase, refunded_before = purchase_update
                    transaction.update(
                        entries(purchase.member_id, keys.entry_key(purchase.ref)),
                        actions=[
                            entries.refunded_minor.set(purchase.refunded_minor),
                            entries.points_reversed.set(purchase.points_reversed),
                            entries.qualifying_reversed.set(purchase.qualifying_reversed),
                        ],
                        condition=entries.refunded_minor == refunded_before, meaning=LOST_RACE,
                    )
                if stock_reward:
                    transaction.update(
                        self._rewards("REWARD", stock_reward.reward_id), actions=[rewards.stock.add(-1)],
                        condition=rewards.stock > 0, meaning=out_of_stock(stock_reward),
                    )
                if counted_reward:
                    self._count_redemption(transaction, change.members[0].member_id, counted_reward)
                if voucher:
                    transaction.save(voucher_to_record(voucher, self.tables.vouchers),
                                     self.tables.vouchers.pk.does_not_exist(), LOST_RACE)
                if redemption:
                    transaction.save(redemption_to_record(redemption, self.tables.redemptions),
                                     self.tables.redemptions.pk.does_not_exist(), LOST_RACE)
                if cancelled:
                    self._cancel_redemption(transaction, cancelled)
                for increment in campaign_increments:
                    self._add_to_campaign_counter(transaction, change.members[0].member_id, increment)
                self._add_counters(transaction, counters)
        except TransactWriteError as error:
            raise transaction.failure(error) from error

    def _cancel_redemption(self, transaction: _Transaction, redemption: Redemption) -> None:
        vouchers, rewards, counts = self.tables.vouchers, self.tables.rewards, self.tables.redemption_counts
        transaction.update(vouchers(keys.voucher_pk(redemption.voucher_code)), actions=[vouchers.status.set("cancelled")],
                           condition=vouchers.status == "issued", meaning=self._voucher_not_issued(redemption.voucher_code))
        if redemption.stock_taken:
            transaction.update(self._rewards("REWARD", redemption.reward_id), actions=[rewards.stock.add(1)],
                               condition=rewards.stock.exists())
        if redemption.reward_id:  # counted by the redemption (store.commit's counted_reward)
            transaction.update(counts(keys.redemption_count(redemption.member_id, redemption.reward_id)),
                               actions=[counts.count.add(-1)], condition=counts.count > 0)

    def _voucher_not_issued(self, code: str) -> _Meaning:
        def refusal() -> Exception:
            current = self.get_voucher(code)
            if current is not None and current.status == "used":
                return _voucher_refusal(current)
            return LostRace()  # cancelled by a cancel of the same redemption a moment ago: the retry replays it

        return _Meaning(2, refusal)

    def _count_redemption(self, transaction: _Transaction, member_id: str, reward: Reward) -> None:
        # Counted on every redemption, so a limit set later counts the redemptions made before it.
        model = self.tables.redemption_counts
        limit = reward.per_member_limit
        transaction.update(
            model(keys.redemption_count(member_id, reward.reward_id)), actions=[model.count.add(1)],
            condition=(model.count.does_not_exist() | (model.count < limit)) if limit is not None else None,
            meaning=limit_reached(reward) if limit is not None else None,
        )

    def _add_to_campaign_counter(self, transaction: _Transaction, member_id: str, increment: Increment) -> None:
        model = self.tables.campaign_counters
        actions = [model.points.add(increment.points), model.times.add(increment.times)]
        if increment.key.period != "campaign":  # a local day: the TTL removes it once the day is well past
            day = datetime.fromisoformat(increment.key.period).replace(tzinfo=timezone.utc)
            actions.append(model.expires.set(int((day + DAY_COUNTER_KEPT).timestamp())))
        condition = None
        for path, added, ceiling in ((model.points, increment.points, increment.max_points),
                                     (model.times, increment.times, increment.max_times)):
            if ceiling is not None:
                room = path.does_not_exist() | (path <= ceiling - added)
                condition = room if condition is None else condition & room
        transaction.update(model(keys.campaign_counter(increment.key, member_id)), actions=actions,
                           condition=condition, meaning=LOST_RACE if condition is not None else None)

    def _add_entries(self, transaction: _Transaction, entries: list[Entry]) -> None:
        model = self.tables.entries
        for entry in entries:
            # An entry's key is its idempotency key: it exists only if another request wrote it first.
            transaction.save(entry_to_record(entry, model), model.entry_key.does_not_exist(), LOST_RACE)

    def items_besides_campaigns(self, change: Change, counters: Counters) -> int:
        """The items `commit` writes for an earn's change before its campaign counters: members, entries, report
        counters (an earn has no other part)."""
        return len(change.members) + len(change.entries) + len(self._counter_actions(counters))

    def _add_counters(self, transaction: _Transaction, counters: Counters) -> None:
        """The report counters move in the same transaction as the ledger, so they are exact."""
        model = self.tables.counters
        for key, actions in self._counter_actions(counters).items():
            transaction.update(model(key), actions=actions)

    def _counter_actions(self, counters: Counters) -> dict[str, list]:
        """Each report counter item to update, with its actions (items with nothing to change left out)."""
        items: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        totals = set()
        for (bucket, member_id), deltas in counters.items():
            key = keys.counter_key(bucket, keys.shard_of(member_id, self.stats_shards))
            if bucket.kind == TOTAL:
                totals.add(key)
            for name, value in deltas.items():
                items[key][name] += value
        days = [bucket.period for bucket, _ in counters if bucket.kind == DAY]
        first_day = min(days) if days else None
        updates = {}
        for key, deltas in sorted(items.items()):
            actions = [Path(name).add(value) for name, value in sorted(deltas.items()) if value]
            if first_day and key in totals:  # kept once: reports need read nothing before it
                actions.append(Path(FIRST_DAY).set(Path(FIRST_DAY) | first_day))
            if actions:
                updates[key] = actions
        return updates

    # -------------------------------------------------------------- vouchers

    def get_voucher(self, code: str) -> Voucher | None:
        try:
            return voucher_from_record(self.tables.vouchers.get(keys.voucher_pk(code), consistent_read=True))
        except DoesNotExist:
            return None
        except GetError as error:
            raise _busy(error) from error

    def use_voucher(self, code: str, used_at: datetime, store_id: str | None) -> Voucher:
        """Mark an issued voucher used, once, while its member is not blocked: one read, one transaction."""
        current = self.get_voucher(code)
        if current is None:
            raise errors.VoucherNotFound(f"no voucher {code}")
        if current.status != "issued":
            self._refuse_use(current)
        model, members = self.tables.vouchers, self.tables.members
        actions = [model.status.set("used"), model.used_at.set(used_at)]
        if store_id is not None:
            actions.append(model.store_id.set(store_id))
        try:
            with TransactWrite(connection=self._connection()) as writes:
                # pynamodb sends condition checks first: reasons[0] is the member's, reasons[1] the voucher's.
                writes.condition_check(members, keys.member_pk(current.member_id),
                                       condition=members.status.does_not_exist() | (members.status != BLOCKED))
                writes.update(model(keys.voucher_pk(code)), actions=actions, condition=model.status == "issued")
        except TransactWriteError as error:
            failed = [reason is not None and reason.code == "ConditionalCheckFailed"
                      for reason in error.cancellation_reasons or []]
            if failed[:1] == [True]:
                raise errors.MemberBlocked(f"member {current.member_id} is blocked; their vouchers cannot be used") from error
            if failed[1:2] == [True]:
                self._refuse_use(self.get_voucher(code) or current)  # another till used it a moment ago
            raise _busy(error) from error
        return replace(current, status="used", used_at=used_at,
                       store_id=store_id if store_id is not None else current.store_id)

    def _refuse_use(self, current: Voucher) -> None:
        raise _voucher_refusal(current)

    # -------------------------------------------------------------- counters

    def counters(self, buckets: Iterable[Bucket]) -> dict[Bucket, dict[str, int]]:
        """Counters by bucket, every shard added up (missing items count as empty)."""
        wanted = {keys.counter_key(bucket, shard): bucket for bucket in buckets
                  for shard in (range(self.stats_shards) if keys.sharded(bucket) else [0])}
        merged: dict[Bucket, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for key, item in self._read_counter_items(wanted).items():
            for name, value in item.items():
                if "N" in value:
                    merged[wanted[key]][name] += int(value["N"])
        return {bucket: dict(values) for bucket, values in merged.items()}

    def totals(self) -> tuple[dict[str, int], date | None]:
        """The running totals over every shard, and the first day anything was counted (None: nothing yet).

        A total written before `first_day` was kept gives `date.min`: nothing is known to be empty.
        """
        wanted = [keys.counter_key(Bucket(TOTAL, None), shard) for shard in range(self.stats_shards)]
        totals: dict[str, int] = defaultdict(int)
        first_days = []
        for item in self._read_counter_items(wanted).values():
            for name, value in item.items():
                if "N" in value:
                    totals[name] += int(value["N"])
            first_days.append(date.fromisoformat(item[FIRST_DAY]["S"]) if FIRST_DAY in item else date.min)
        return dict(totals), min(first_days) if first_days else None

    def report_basis(self) -> tuple[dict[str, int], date | None, date | None]:
        """`totals()` and the last day the roll-up added up (None: none yet), in the same BatchGetItem."""
        rollup = keys.counter_key(Bucket(ROLLUP, None), 0)
        wanted = [keys.counter_key(Bucket(TOTAL, None), shard) for shard in range(self.stats_shards)]
        found = self._read_counter_items([*wanted, rollup])
        marker = found.pop(rollup, {})
        totals: dict[str, int] = defaultdict(int)
        first_days = []
        for item in found.values():
            for name, value in item.items():
                if "N" in value:
                    totals[name] += int(value["N"])
            first_days.append(date.fromisoformat(item[FIRST_DAY]["S"]) if FIRST_DAY in item else date.min)
        through = date.fromisoformat(marker[ROLLED_THROUGH]["S"]) if ROLLED_THROUGH in marker else None
        return dict(totals), min(first_days) if first_days else None, through

    def day_figures(self, day: date) -> dict[str, int]:
        """A day's net and pending points, every shard added up, read consistently (for the roll-up)."""
        wanted = [keys.counter_key(Bucket(DAY, day.isoformat()), shard) for shard in range(self.stats_shards)]
        figures = dict.fromkeys(CUMULATED, 0)
        for item in self._read_counter_items(wanted, consistent=True).values():
            for name in CUMULATED:
                figures[name] += int(item[name]["N"]) if name in item else 0
        return figures

    def cumulative(self, day: date) -> dict[str, int] | None:
        """The roll-up's figures through `day` (None: not rolled up)."""
        key = keys.counter_key(Bucket(CUMULATIVE, day.isoformat()), 0)
        item = self._read_counter_items([key], consistent=True).get(key)
        return {name: int(item[name]["N"]) if name in item else 0 for name in CUMULATED} if item else None

    def write_cumulative(self, day: date, figures: dict[str, int], previous: date | None) -> bool:
        """Keep the figures through `day` and move the roll-up's marker from `previous` to `day`, in one transaction;
        False when the marker was not at `previous` (another run moved it: nothing written)."""
        model = self.tables.counters
        marker = Path(ROLLED_THROUGH)
        condition = marker.does_not_exist() if previous is None else marker == previous.isoformat()
        actions = [Path(name).set(value) for name, value in sorted(figures.items())]
        try:
            with TransactWrite(connection=self._connection()) as writes:
                writes.update(model(keys.counter_key(Bucket(CUMULATIVE, day.isoformat()), 0)), actions=actions)
                writes.update(model(keys.counter_key(Bucket(ROLLUP, None), 0)), actions=[marker.set(day.isoformat())],
                              condition=condition)
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in error.cancellation_reasons or []]
            if "ConditionalCheckFailed" in reasons:
                return False
            raise _busy(error) from error
        return True

    def _read_counter_items(self, wanted: Iterable[str], consistent: bool = False) -> dict[str, dict]:
        """Raw items (counters are dynamic attributes, which a pynamodb model would drop), eventually consistent
        unless asked (half the read units; a report may lag a write by a second), in batches of 100."""
        table = self.tables.counters.Meta.table_name
        found = self._batch_get({table: [{"pk": {"S": key}} for key in dict.fromkeys(wanted)]}, consistent=consistent)
        return {item["pk"]["S"]: item for item in found.get(table, [])}

    # -------------------------------------------------------------- privacy

    def erase_member(
        self, change: Change, base_version: int, schedule: JobSchedule, counters: Counters, email_hash: str, sub: str | None,
    ) -> None:
        """One transaction: the member without its personal data (if unchanged since read), its uniqueness
        markers deleted (only while they name this member), the `erase` entry and the counters."""
        member, members, markers = change.member, self.tables.members, self.tables.markers
        names = [keys.email_marker(email_hash), keys.referral_marker(member.referral_code)]
        names += [keys.sub_marker(sub)] if sub else []
        try:
            with TransactWrite(connection=self._connection()) as writes:
                transaction = _Transaction(writes)
                transaction.save(member_to_record(member, members, schedule, self.job_shards),
                                 members.version == base_version, LOST_RACE)
                for name in names:  # absent already is fine: a marker of another member is never deleted
                    transaction.delete(markers(name), markers.pk.does_not_exist() | (markers.member_id == member.member_id),
                                       LOST_RACE)
                self._add_entries(transaction, change.entries)
                self._add_counters(transaction, counters)
        except TransactWriteError as error:
            raise transaction.failure(error) from error

    def member_ledger(self, member_id: str, max_entries: int) -> tuple[list[Entry], list[Consent], str | None]:
        """The member's newest `max_entries` ledger entries, newest first in the activity's order, with the activity
        cursor of the older ones (None: there are none), and every consent change, oldest first.

        Two Queries, each paged by DynamoDB (1 MB a page): the activity index, then the consent records."""
        entries_model, consents_model = self.tables.entries, self.tables.consents
        try:
            page = entries_model.by_time.query(member_id, scan_index_forward=False, limit=max_entries, consistent_read=True)
            entries = [entry_from_record(record) for record in page]
            consents = [Consent(record.marketing_opt_in, record.at, record.by) for record in consents_model.query(
                member_id, consents_model.entry_key.startswith(keys.CONSENT_PREFIX), consistent_read=True)]
        except QueryError as error:
            raise _busy(error) from error
        last = page.last_evaluated_key
        return entries, consents, _encode_cursor(last) if last and len(entries) == max_entries else None

    def vouchers(self, codes: Iterable[str]) -> list[Voucher]:
        """Vouchers by code (unknown codes left out), read with BatchGetItem, 100 at a time."""
        try:
            found = self.tables.vouchers.batch_get([keys.voucher_pk(code) for code in dict.fromkeys(codes)])
            return sorted((voucher_from_record(record) for record in found), key=lambda voucher: voucher.issued_at)
        except GetError as error:
            raise _busy(error) from error


def _voucher_refusal(current: Voucher) -> errors.DomainError:
    """Why a voucher that is not issued cannot be used (or its redemption cancelled)."""
    if current.status == "cancelled":
        return errors.VoucherCancelled(f"voucher {current.voucher_code} was cancelled")
    used_at = keys.time_key(current.used_at) if current.used_at else None  # RFC 3339, UTC, "Z"
    return errors.VoucherAlreadyUsed(f"voucher {current.voucher_code} was used at {used_at}",
                                     used_at=used_at, store_id=current.store_id)


def _found(future, convert):
    """A TransactGet result converted, or None when the item does not exist."""
    try:
        return convert(future.get())
    except DoesNotExist:
        return None


# ------------------------------------------------------------------ cursors


def _encode_cursor(last_evaluated_key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_evaluated_key, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str, member_id: str, low: str | None, high: str | None) -> dict:
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


class JobIndex:
    """The jobs' sparse, sharded indexes on the members table: who is due, without a scan."""

    def __init__(self, members: type[MemberModel], job_shards: int) -> None:
        self.members, self.shards = members, job_shards

    @classmethod
    def from_settings(cls, settings: DispatcherSettings) -> JobIndex:
        members = bind_members(settings.members_table, settings.aws_region, settings.aws_endpoint_url_dynamodb)
        return cls(members, settings.job_shards)

    def on_request(self, hook: RequestHook) -> None:
        """Call `hook(operation, params)` before each DynamoDB request of the index (tests count them)."""
        _on_request([self.members], hook)

    def due_member_ids(self, shard: int, now: datetime) -> Iterator[str]:
        """Members of one shard for whom the expiry job has something due at `now`."""
        return self._member_ids(self.members.by_due, keys.due_index_shard(shard), self.members.next_due <= keys.due_key(now))

    def unreviewed_member_ids(self, shard: int, month: str) -> Iterator[str]:
        """Members of one shard above the base tier whose tier was not reviewed in `month`."""
        return self._member_ids(self.members.by_review, keys.review_index_shard(shard), self.members.review_month < month)

    def birthday_member_ids(self, shard: int, month_day: str) -> Iterator[str]:
        """Members of one shard whose birthday is `month_day` ("MM-DD")."""
        return self._member_ids(self.members.by_birthday, keys.birthday_index_shard(month_day, shard), None)

    @staticmethod
    def _member_ids(index, shard_key: str, condition) -> Iterator[str]:
        try:
            for record in index.query(shard_key, condition):
                yield keys.member_id_of(record.pk)
        except QueryError as error:
            raise _busy(error) from error
