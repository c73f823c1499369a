"""The store operations the use cases need, each one DynamoDB round trip.

DynamoDB failures become domain-level signals here: a lost race (`LostRace`, the
caller reloads and decides again), a taken uniqueness marker, or `errors.Busy`
when DynamoDB throttles or fails (nothing was written; safe to retry).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from pynamodb.expressions.operand import Path

from pynamodb.exceptions import GetError, PynamoDBException, QueryError, TransactGetError, TransactWriteError
from pynamodb.transactions import TransactGet, TransactWrite

from loyalty.domain import errors, stats
from loyalty.domain.model import Entry, Member, Reward
from loyalty.domain.rules import Change
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.store.models import CounterModel, EntryModel, MarkerModel, MemberModel, RewardModel
from loyalty.store.records import (
    entry_from_record,
    entry_to_record,
    member_from_record,
    member_pk,
    member_to_record,
    reward_from_record,
    reward_to_record,
)


class LostRace(Exception):
    """Another request changed the member (or wrote the same key) first: reload and decide again."""


class ReferralCodeTaken(Exception):
    pass


def _busy(error: PynamoDBException) -> errors.Busy:
    return errors.Busy("the database is busy; nothing was written, please retry", cause=error.cause_response_code)


def _connection():
    return MemberModel._get_connection().connection


# ------------------------------------------------------------------ reads


def get_member(member_id: str) -> Member | None:
    try:
        return member_from_record(MemberModel.get(member_pk(member_id), consistent_read=True))
    except MemberModel.DoesNotExist:
        return None
    except GetError as error:
        raise _busy(error) from error


def get_member_and_entries(member_id: str, entry_keys: Iterable[str]) -> tuple[Member | None, dict[str, Entry]]:
    """The member and some of its ledger entries, read consistently in one round trip."""
    try:
        with TransactGet(connection=_connection()) as reads:
            member_future = reads.get(MemberModel, member_pk(member_id))
            entry_futures = {key: reads.get(EntryModel, member_id, key) for key in entry_keys}
    except TransactGetError as error:
        if error.cause_response_code == "TransactionCanceledException":
            raise LostRace() from error  # a write to one of these items was in flight
        raise _busy(error) from error
    try:
        member = member_from_record(member_future.get())
    except MemberModel.DoesNotExist:
        member = None
    entries = {}
    for key, future in entry_futures.items():
        try:
            entries[key] = entry_from_record(future.get())
        except EntryModel.DoesNotExist:
            pass
    return member, entries


def member_id_for_referral_code(code: str) -> str | None:
    try:
        return MarkerModel.get(f"REF#{code}").member_id
    except MarkerModel.DoesNotExist:
        return None
    except GetError as error:
        raise _busy(error) from error


def activity(
    member_id: str, limit: int, cursor: str | None, since: datetime | None = None, until: datetime | None = None,
) -> tuple[list[Entry], str | None]:
    """A page of the member's ledger, newest first, optionally recorded in [since, until)."""
    start = _decode_cursor(cursor, member_id) if cursor else None
    window = None
    if since or until:
        low = _time_key(since) if since else ""
        high = _time_key(until) if until else "~"  # "~" sorts after every timestamp
        window = EntryModel.created_seq.between(low, high)
    try:
        page = EntryModel.by_time.query(
            member_id, window, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        entries = [entry_from_record(record) for record in page]
    except QueryError as error:
        raise _busy(error) from error
    last = page.last_evaluated_key
    return entries, _encode_cursor(last) if last and len(entries) == limit else None


def _time_key(moment: datetime) -> str:
    """A `created_seq` bound: every entry at or after `moment` sorts above it (entries carry "#<seq>")."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _encode_cursor(last_evaluated_key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_evaluated_key, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str, member_id: str) -> dict:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        valid = set(key) == {"member_id", "entry_key", "created_seq"} and key["member_id"] == {"S": member_id}
    except (ValueError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise errors.InvalidCursor("the cursor is not one this list returned")
    return key


def due_member_ids(shard: int, now: datetime) -> Iterator[str]:
    """Members of one shard for whom the expiry job has something due at `now`."""
    until = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _index_member_ids(MemberModel.by_due, f"D#{shard}", MemberModel.next_due <= until)


def unreviewed_member_ids(shard: int, month: str) -> Iterator[str]:
    """Members of one shard above the base tier whose tier was not reviewed in `month`."""
    return _index_member_ids(MemberModel.by_review, f"R#{shard}", MemberModel.review_month < month)


def _index_member_ids(index, shard_key: str, condition) -> Iterator[str]:
    try:
        for record in index.query(shard_key, condition):
            yield record.pk.removeprefix("M#")
    except QueryError as error:
        raise _busy(error) from error


def rewards() -> list[Reward]:
    try:
        return [reward_from_record(record) for record in RewardModel.query("REWARD")]
    except QueryError as error:
        raise _busy(error) from error


# ------------------------------------------------------------------ writes


def create_member(change: Change, email_hash: str) -> None:
    """Write a new member, its uniqueness markers and its first entries in one transaction."""
    member = change.member
    markers = [MarkerModel(f"EMAIL#{email_hash}", member_id=member.member_id)]
    if member.sub:
        markers.append(MarkerModel(f"SUB#{member.sub}", member_id=member.member_id))
    referral_marker = MarkerModel(f"REF#{member.referral_code}", member_id=member.member_id)
    try:
        with TransactWrite(connection=_connection()) as writes:
            writes.save(member_to_record(member), condition=MemberModel.pk.does_not_exist())
            for marker in markers:
                writes.save(marker, condition=MarkerModel.pk.does_not_exist())
            writes.save(referral_marker, condition=MarkerModel.pk.does_not_exist())
            for entry in change.entries:
                writes.save(entry_to_record(entry), condition=EntryModel.entry_key.does_not_exist())
            _add_counters(writes, change, enrolled=member)
    except TransactWriteError as error:
        failed = _failed_items(error)
        if failed & set(range(0, 1 + len(markers))):
            raise errors.AlreadyEnrolled("this email or account is already enrolled") from error
        if 1 + len(markers) in failed:
            raise ReferralCodeTaken() from error
        raise _as_race_or_busy(error) from error


def commit(
    change: Change,
    base_versions: dict[str, int],
    purchase_update: tuple[Entry, int] | None = None,
    stock_reward: Reward | None = None,
) -> None:
    """Write a change in one transaction: members only if unchanged since read, entries only if new.

    purchase_update: an earn entry with its new refund totals and the refunded amount it was read with.
    stock_reward: a reward with limited stock, taken one off only while some is left.
    """
    try:
        with TransactWrite(connection=_connection()) as writes:
            for member in change.members:
                writes.save(member_to_record(member), condition=MemberModel.version == base_versions[member.member_id])
            for entry in change.entries:
                writes.save(entry_to_record(entry), condition=EntryModel.entry_key.does_not_exist())
            if purchase_update:
                purchase, refunded_before = purchase_update
                writes.update(
                    EntryModel(purchase.member_id, purchase.key),
                    actions=[
                        EntryModel.refunded_minor.set(purchase.refunded_minor),
                        EntryModel.points_reversed.set(purchase.points_reversed),
                        EntryModel.qualifying_reversed.set(purchase.qualifying_reversed),
                    ],
                    condition=EntryModel.refunded_minor == refunded_before,
                )
            if stock_reward:
                writes.update(
                    RewardModel("REWARD", stock_reward.reward_id),
                    actions=[RewardModel.stock.add(-1)],
                    condition=RewardModel.stock > 0,
                )
            _add_counters(writes, change)
    except TransactWriteError as error:
        stock_index = len(change.members) + len(change.entries) + (1 if purchase_update else 0)
        if stock_reward and stock_index in _failed_items(error):
            raise errors.OutOfStock(f"{stock_reward.name} is out of stock") from error
        raise _as_race_or_busy(error) from error


def _add_counters(writes: TransactWrite, change: Change, enrolled: Member | None = None) -> None:
    """The report counters move in the same transaction as the ledger, so they are exact."""
    deltas = stats.counter_deltas(
        change.entries, time_zone=get_program().time_zone, shards=get_settings().stats_shards,
        enrolled=enrolled, tier_moves=change.tier_moves,
    )
    for key, counters in sorted(deltas.items()):
        writes.update(CounterModel(key), actions=[Path(name).add(value) for name, value in sorted(counters.items())])


BATCH_GET_LIMIT = 100


def counters(keys: Iterable[str]) -> dict[str, dict[str, int]]:
    """Counter items by key (missing ones are absent), in as few BatchGetItem calls as the keys need.

    Read raw: the counters are dynamic attributes, which a pynamodb model would drop.
    """
    table = CounterModel._get_connection()
    pending = [{"pk": {"S": key}} for key in dict.fromkeys(keys)]
    found: dict[str, dict[str, int]] = {}
    while pending:
        batch, pending = pending[:BATCH_GET_LIMIT], pending[BATCH_GET_LIMIT:]
        try:
            response = table.batch_get_item(batch)
        except GetError as error:
            raise _busy(error) from error
        for item in response["Responses"].get(table.table_name, []):
            found[item["pk"]["S"]] = {name: int(value["N"]) for name, value in item.items() if "N" in value}
        pending += response.get("UnprocessedKeys", {}).get(table.table_name, {}).get("Keys", [])
    return found


def put_rewards(catalog: Iterable[Reward]) -> None:
    with RewardModel.batch_write() as batch:
        for reward in catalog:
            batch.save(reward_to_record(reward))


def _failed_items(error: TransactWriteError) -> set[int]:
    return {
        index
        for index, reason in enumerate(error.cancellation_reasons or [])
        if reason is not None and reason.code == "ConditionalCheckFailed"
    }


def _as_race_or_busy(error: TransactWriteError) -> Exception:
    if error.cause_response_code == "TransactionCanceledException":
        codes = {reason.code for reason in error.cancellation_reasons or [] if reason is not None}
        if codes & {"ConditionalCheckFailed", "TransactionConflict"}:
            return LostRace()
    if error.cause_response_code == "TransactionConflictException":
        return LostRace()
    return _busy(error)
