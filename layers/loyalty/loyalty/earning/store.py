"""The earn's store operations: the one read of the member, its entries and the campaigns' limit counters; the
earn's parts of the ledger's transaction (a return's purchase update, the campaign counters)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING


from loyalty.domain.model import Entry, EntryRef, Member
from loyalty.store import keys
from loyalty.store.ledger import Store, Write
from loyalty.store.transaction import LOST_RACE, Transaction
from loyalty.store.records import (
    entry_from_record,
    member_from_record,
)

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    from loyalty.domain.campaigns.engine import CounterKey, Increment, Usage

DAY_COUNTER_KEPT = timedelta(days=7)  # a campaign's per-day counter outlives its day by this much (TTL), then goes


class EarnStore:
    """The earning feature's reads and writes, on the store base."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def campaign_shard(self, member_id: str) -> int:
        """The shard of a campaign's counters in all that a member's purchases take from first."""
        from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS  # only the earn function loads the campaign engine

        return keys.shard_of(member_id, CAMPAIGN_SHARDS)

    def get_for_earn(
        self, member_id: str, refs: Iterable[EntryRef], counters: Iterable[CounterKey],
    ) -> tuple[Member | None, dict[EntryRef, Entry], dict[CounterKey, Usage]]:
        """The member, some of its entries and campaign limit counters (a missing one is zero): one round trip.

        Consistent BatchGetItems of at most 100 keys (one when the counters are few: a counter in all is one key
        per shard, domain.campaigns.stored_keys), at half the capacity of a transactional read. It does not read the items as one snapshot: a purchase
        written meanwhile makes the earn's conditions fail (member version, entry key, counter ceilings) and the
        earn reads again, so nothing is decided on a torn read.
        """
        from loyalty.domain.campaigns.engine import Usage  # here: only the earn function loads the campaign engine

        members, entries, counter_model = self.store.tables.members, self.store.tables.entries, self.store.tables.campaign_counters
        member_key = keys.member_pk(member_id)
        entry_refs = {keys.entry_key(ref): ref for ref in refs}
        counter_keys = {keys.campaign_counter(key, member_id): key for key in counters}
        wanted = {
            members.Meta.table_name: [{"pk": {"S": member_key}}],
            entries.Meta.table_name: [{"member_id": {"S": member_id}, "entry_key": {"S": key}} for key in entry_refs],
            counter_model.Meta.table_name: [{"pk": {"S": key}} for key in counter_keys],
        }
        found = self.store.batch_get({table: keys_ for table, keys_ in wanted.items() if keys_})
        member, read_entries, usage = None, {}, {}
        for item in found.get(members.Meta.table_name, []):
            member = member_from_record(members.from_raw_data(item))
        for item in found.get(entries.Meta.table_name, []):
            read_entries[entry_refs[item["entry_key"]["S"]]] = entry_from_record(entries.from_raw_data(item))
        for item in found.get(counter_model.Meta.table_name, []):
            record = counter_model.from_raw_data(item)
            usage[counter_keys[record.pk]] = Usage(points=int(record.points or 0), times=int(record.times or 0))
        return member, read_entries, usage

    def returned(self, purchase: Entry, refunded_before: int) -> Write:
        """A return's part of the ledger's transaction: the earn entry with its new refund totals, only while its
        refunded amount is still the one read (another return meanwhile is a lost race)."""
        entries = self.store.tables.entries

        def write(transaction: Transaction) -> None:
            transaction.update(
                entries(purchase.member_id, keys.entry_key(purchase.ref)),
                actions=[
                    entries.refunded_minor.set(purchase.refunded_minor),
                    entries.points_reversed.set(purchase.points_reversed),
                    entries.qualifying_reversed.set(purchase.qualifying_reversed),
                ],
                condition=entries.refunded_minor == refunded_before, meaning=LOST_RACE,
            )

        return write

    def campaign_counters(self, member_id: str, increments: Iterable[Increment]) -> Write:
        """An earn's part of the ledger's transaction: its campaign counters (of `member_id`, the earning member),
        each added only while it stays within its ceilings; a counter another purchase filled meanwhile is a lost
        race (reread, decide again)."""
        increments = tuple(increments)

        def write(transaction: Transaction) -> None:
            for increment in increments:
                self._add_to_campaign_counter(transaction, member_id, increment)

        return write

    def _add_to_campaign_counter(self, transaction: Transaction, member_id: str, increment: Increment) -> None:
        model = self.store.tables.campaign_counters
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
