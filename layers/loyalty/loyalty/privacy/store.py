"""The privacy store operations: everything held about a member, and its erasure in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pynamodb.exceptions import (
    GetError,
    QueryError,
    TransactWriteError,
)
from pynamodb.transactions import TransactWrite

from loyalty.domain.model import Consent, Entry, Voucher
from loyalty.domain.ledger import Change, JobSchedule
from loyalty.domain.stats import Counters
from loyalty.store import keys
from loyalty.store.ledger import Store
from loyalty.store.transaction import LOST_RACE, Transaction, busy, encode_cursor
from loyalty.store.records import (
    entry_from_record,
    member_to_record,
    voucher_from_record,
)

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    pass

class PrivacyStore:
    """The privacy feature's reads and writes, on the store base."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def erase_member(
        self, change: Change, base_version: int, schedule: JobSchedule, counters: Counters, email_hash: str, sub: str | None,
    ) -> None:
        """One transaction: the member without its personal data (if unchanged since read), its uniqueness
        markers deleted (only while they name this member), the `erase` entry and the counters."""
        member, members, markers = change.member, self.store.tables.members, self.store.tables.markers
        names = [keys.email_marker(email_hash), keys.referral_marker(member.referral_code)]
        names += [keys.sub_marker(sub)] if sub else []
        try:
            with TransactWrite(connection=self.store.connection()) as writes:
                transaction = Transaction(writes)
                transaction.save(member_to_record(member, members, schedule, self.store.job_shards),
                                 members.version == base_version, LOST_RACE)
                for name in names:  # absent already is fine: a marker of another member is never deleted
                    transaction.delete(markers(name), markers.pk.does_not_exist() | (markers.member_id == member.member_id),
                                       LOST_RACE)
                self.store.add_entries(transaction, change.entries)
                self.store.add_counters(transaction, counters)
        except TransactWriteError as error:
            raise transaction.failure(error) from error

    def member_ledger(self, member_id: str, max_entries: int) -> tuple[list[Entry], list[Consent], str | None]:
        """The member's newest `max_entries` ledger entries, newest first in the activity's order, with the activity
        cursor of the older ones (None: there are none), and every consent change, oldest first.

        Two Queries, each paged by DynamoDB (1 MB a page): the activity index, then the consent records."""
        entries_model, consents_model = self.store.tables.entries, self.store.tables.consents
        try:
            page = entries_model.by_time.query(member_id, scan_index_forward=False, limit=max_entries, consistent_read=True)
            entries = [entry_from_record(record) for record in page]
            consents = [Consent(record.marketing_opt_in, record.at, record.by) for record in consents_model.query(
                member_id, consents_model.entry_key.startswith(keys.CONSENT_PREFIX), consistent_read=True)]
        except QueryError as error:
            raise busy(error) from error
        last = page.last_evaluated_key
        return entries, consents, encode_cursor(last) if last and len(entries) == max_entries else None

    def vouchers(self, codes: Iterable[str]) -> list[Voucher]:
        """Vouchers by code (unknown codes left out), read with BatchGetItem, 100 at a time."""
        try:
            found = self.store.tables.vouchers.batch_get([keys.voucher_pk(code) for code in dict.fromkeys(codes)])
            return sorted((voucher_from_record(record) for record in found), key=lambda voucher: voucher.issued_at)
        except GetError as error:
            raise busy(error) from error
