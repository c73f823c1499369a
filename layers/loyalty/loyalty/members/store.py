"""The members' store operations: enrolment, profile changes with their consent records, the uniqueness markers,
the activity (a page of the ledger)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import (
    QueryError,
    TransactWriteError,
)
from pynamodb.transactions import TransactWrite

from loyalty.domain.model import Entry, Member
from loyalty.domain.ledger import Change, JobSchedule
from loyalty.domain.membership import ProfileUpdate
from loyalty.domain.stats import Counters
from loyalty.store import keys
from loyalty.store.ledger import Store
from loyalty.store.transaction import ALREADY_ENROLLED, LOST_RACE, REFERRAL_CODE_TAKEN, Transaction, busy, decode_cursor, encode_cursor
from loyalty.store.records import (
    entry_from_record,
    member_to_record,
)

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    pass

class MemberStore:
    """The members feature's reads and writes, on the store base."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def member_id_for_referral_code(self, code: str) -> str | None:
        return self.store.marked_member_id(keys.referral_marker(code))

    def member_id_for_email(self, email_hash: str) -> str | None:
        """The member holding an e-mail's uniqueness marker (read consistently: an enrollment just made is found)."""
        return self.store.marked_member_id(keys.email_marker(email_hash), consistent_read=True)

    def activity(
        self, member_id: str, limit: int, cursor: str | None, since: datetime | None = None, until: datetime | None = None,
    ) -> tuple[list[Entry], str | None]:
        """A page of the member's ledger, newest first, optionally recorded in [since, until)."""
        entries_model = self.store.tables.entries
        low = keys.time_key(since) if since else None
        high = keys.time_key(until) if until else None
        start = decode_cursor(cursor, member_id, low, high) if cursor else None
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
            raise busy(error) from error
        last = page.last_evaluated_key
        return entries, encode_cursor(last) if last and len(entries) == limit else None

    def create_member(self, change: Change, email_hash: str, schedule: JobSchedule, counters: Counters,
                      consent_by: str = "member") -> None:
        """Write a new member, its uniqueness markers, its first entries and its first consent in one transaction."""
        member, markers = change.member, self.store.tables.markers
        try:
            with TransactWrite(connection=self.store.connection()) as writes:
                transaction = Transaction(writes)
                transaction.save(
                    member_to_record(member, self.store.tables.members, schedule, self.store.job_shards),
                    self.store.tables.members.pk.does_not_exist(), ALREADY_ENROLLED,
                )
                transaction.save(markers(keys.email_marker(email_hash), member_id=member.member_id),
                                 markers.pk.does_not_exist(), ALREADY_ENROLLED)
                if member.sub:
                    transaction.save(markers(keys.sub_marker(member.sub), member_id=member.member_id),
                                     markers.pk.does_not_exist(), ALREADY_ENROLLED)
                transaction.save(markers(keys.referral_marker(member.referral_code), member_id=member.member_id),
                                 markers.pk.does_not_exist(), REFERRAL_CODE_TAKEN)
                self.store.add_entries(transaction, change.entries)
                self._add_consent(transaction, member, member.enrolled_at, consent_by)
                self.store.add_counters(transaction, counters)
        except TransactWriteError as error:
            raise transaction.failure(error) from error

    def update_profile(self, update: ProfileUpdate, base_version: int, schedule: JobSchedule,
                       email_hashes: tuple[str, str] | None, consent_by: str) -> None:
        """Write a profile change in one transaction: the member only if unchanged since read; a new e-mail's marker
        only if free, its old one only if still this member's (so no moment has two members on one e-mail, or
        an e-mail free while a member holds it); a consent change's record."""
        member, members, markers = update.member, self.store.tables.members, self.store.tables.markers
        try:
            with TransactWrite(connection=self.store.connection()) as writes:
                transaction = Transaction(writes)
                transaction.save(member_to_record(member, members, schedule, self.store.job_shards),
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

    def _add_consent(self, transaction: Transaction, member: Member, at: datetime, by: str) -> None:
        model = self.store.tables.consents
        record = model(member.member_id, keys.consent_key(at, member.version), marketing_opt_in=member.marketing_opt_in,
                       at=at, by=by)
        transaction.save(record, model.entry_key.does_not_exist(), LOST_RACE)
