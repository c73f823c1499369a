"""The store base: the loyalty tables of one deployment, the member's reads and the ledger's one transaction.

Each feature's store operations (`loyalty/<feature>/store.py`) are built on this: they read with it and add
their own items to its `commit`, which writes the members (only if unchanged since read), the entries (only if
new) and the report counters, all or nothing. The store decides nothing: what to write, the counters that move
and what the jobs' indexes list are computed by the domain and handed in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import (
    DoesNotExist,
    GetError,
    TransactGetError,
    TransactWriteError,
)
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactGet, TransactWrite

from loyalty.domain.model import Entry, EntryRef, Member
from loyalty.domain.ledger import Change, JobSchedule
from loyalty.domain.stats import DAY, TOTAL, Counters
from loyalty.settings import StoreSettings
from loyalty.store import keys
from loyalty.store.transaction import LOST_RACE, Backoff, RequestHook, Transaction, batch_get_all, busy, hook_requests, response_code, LostRace
from loyalty.store.clients import share_client
from loyalty.store.models import Tables, bind_tables
from loyalty.store.records import (
    entry_from_record,
    entry_to_record,
    member_from_record,
    member_to_record,
)

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    pass

FIRST_DAY = "first_day"  # on each shard's total: the first day anything was counted there
Write = Callable[[Transaction], None]  # a feature's part of a commit


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
            model.Meta.read_timeout_seconds = settings.dynamodb_read_timeout_seconds
        share_client(tables.models())
        return cls(tables, job_shards=settings.job_shards, stats_shards=settings.stats_shards)

    def connection(self):
        return self.tables.members._get_connection().connection

    def on_request(self, hook: RequestHook) -> None:
        """Call `hook(operation, params)` before each DynamoDB request of this store (tests and benchmarks count them)."""
        hook_requests(self.tables.models(), hook)

    def get_member(self, member_id: str) -> Member | None:
        try:
            return member_from_record(self.tables.members.get(keys.member_pk(member_id), consistent_read=True))
        except DoesNotExist:
            return None
        except GetError as error:
            raise busy(error) from error

    def get_member_and_entries(self, member_id: str, refs: Iterable[EntryRef]) -> tuple[Member | None, dict[EntryRef, Entry]]:
        """The member and some of its ledger entries, read consistently in one round trip."""
        member, entries, _ = self.read_member(member_id, refs)
        return member, entries

    def read_member(
        self, member_id: str, refs: Iterable[EntryRef], count_key: str | None = None,
    ) -> tuple[Member | None, dict[EntryRef, Entry], int]:
        try:
            with TransactGet(connection=self.connection()) as reads:
                member_future = reads.get(self.tables.members, keys.member_pk(member_id))
                entry_futures = {ref: reads.get(self.tables.entries, member_id, keys.entry_key(ref)) for ref in refs}
                count_future = reads.get(self.tables.redemption_counts, count_key) if count_key else None
        except TransactGetError as error:
            if response_code(error) == "TransactionCanceledException":
                raise LostRace() from error  # a write to one of these items was in flight
            raise busy(error) from error
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

    def batch_get(self, wanted: dict[str, list[dict]], consistent: bool = True) -> dict[str, list[dict]]:
        """Raw items of several tables in BatchGetItems of 100 keys (again, after a backoff, for keys DynamoDB left
        unprocessed)."""
        client = self.connection().client

        def send(request_items: dict) -> dict:
            try:
                return client.batch_get_item(RequestItems=request_items)
            except (ClientError, BotoCoreError) as error:
                raise busy(error) from error

        requests = {table: {"Keys": keys_, "ConsistentRead": consistent} for table, keys_ in wanted.items()}
        return batch_get_all(send, requests, self.backoff)

    def member_id_for_sub(self, sub: str) -> str | None:
        """The live member enrolled with a token subject (erasure deletes the marker with the profile)."""
        return self.marked_member_id(keys.sub_marker(sub), consistent_read=True)

    def marked_member_id(self, marker: str, consistent_read: bool = False) -> str | None:
        try:
            return self.tables.markers.get(marker, consistent_read=consistent_read).member_id
        except DoesNotExist:
            return None
        except GetError as error:
            raise busy(error) from error

    def commit(
        self,
        change: Change,
        base_versions: dict[str, int],
        schedules: dict[str, JobSchedule],
        counters: Counters,
        writes: Iterable[Write] = (),
    ) -> None:
        """Write a change in one transaction: members only if unchanged since read, entries only if new, the report
        counters, and each feature's `writes` (a redemption's stock and voucher, a return's purchase, an earn's
        campaign counters: see their stores), all or nothing.

        schedules: each member's job schedule (the index keys its item carries).
        """
        members = self.tables.members
        try:
            with TransactWrite(connection=self.connection()) as batch:
                transaction = Transaction(batch)
                for member in change.members:
                    transaction.save(
                        member_to_record(member, members, schedules[member.member_id], self.job_shards),
                        members.version == base_versions[member.member_id], LOST_RACE,
                    )
                self.add_entries(transaction, change.entries)
                for write in writes:
                    write(transaction)
                self.add_counters(transaction, counters)
        except TransactWriteError as error:
            raise transaction.failure(error) from error

    def add_entries(self, transaction: Transaction, entries: list[Entry]) -> None:
        model = self.tables.entries
        for entry in entries:
            # An entry's key is its idempotency key: it exists only if another request wrote it first.
            transaction.save(entry_to_record(entry, model), model.entry_key.does_not_exist(), LOST_RACE)

    def items_besides_campaigns(self, change: Change, counters: Counters) -> int:
        """The items `commit` writes for an earn's change before its campaign counters: members, entries, report
        counters (an earn has no other part)."""
        return len(change.members) + len(change.entries) + len(self.counter_actions(counters))

    def add_counters(self, transaction: Transaction, counters: Counters) -> None:
        """The report counters move in the same transaction as the ledger, so they are exact."""
        model = self.tables.counters
        for key, actions in self.counter_actions(counters).items():
            transaction.update(model(key), actions=actions)

    def counter_actions(self, counters: Counters) -> dict[str, list]:
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
