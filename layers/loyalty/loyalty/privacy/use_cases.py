"""The privacy use cases: everything held about a member (the export), its erasure, erasures re-applied after a
restore."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from loyalty.clock import Clock
from loyalty.core.directory import Directory
from loyalty.core.retry import RetryPolicy
from loyalty.domain import ledger, membership, stats
from loyalty.domain.access import ADMIN_SCOPE, Caller
from loyalty.domain.model import ERASED, Consent, Entry, Member, Voucher
from loyalty.privacy.store import PrivacyStore
from loyalty.core.programs import Programs
from loyalty.program import Program
from loyalty.store.ledger import Store

# The export's cost ceiling: the newest this many ledger entries (about 1 MB read, well under Lambda's 6 MB answer);
# older ones are read through the activity, from the cursor the export gives.
MAX_EXPORT_ENTRIES = 1000


@dataclass(frozen=True)
class MemberExport:
    """Everything held about one member (GET /v1/members/{id}/export)."""

    member: Member
    consents: list[Consent]  # oldest first
    entries: list[Entry]  # newest first, as the activity; at most MAX_EXPORT_ENTRIES
    vouchers: list[Voucher]  # by issue time
    next_cursor: str | None = None  # the activity's cursor of the entries older than these (None: none)
    messages: list = field(default_factory=list)  # the message log (messages.store.LogEntry), newest first


@dataclass
class Privacy:
    store: Store
    privacy: PrivacyStore
    directory: Directory
    clock: Clock
    programs: Programs  # the program's versions, cached
    email_hash: Callable[[str], str]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_export_entries: int = MAX_EXPORT_ENTRIES  # the export's ceiling (a test sets a small one)
    messages: Callable[[str], list] | None = None  # the member's message log, newest first (None: not exported)

    @property
    def program(self) -> Program:
        """The program version in force now (`programs` caches the versions at most 60 s)."""
        return self.programs.current()

    def export(self, caller: Caller, member_id: str) -> MemberExport:
        """Everything held about a member: the member, its consent changes, every ledger entry and its vouchers.

        Round trips: the member (two for "me"), the newest `max_export_entries` entries and the consent changes (a
        Query each, one page per MB), the vouchers of those entries (one BatchGet per 100 redemptions)."""
        member = self.directory.member(caller, member_id)
        entries, consents, older = self.privacy.member_ledger(member.member_id, self.max_export_entries)
        codes = [entry.voucher_code for entry in entries if entry.type == "redeem" and entry.voucher_code]
        sent = self.messages(member.member_id) if self.messages else []
        return MemberExport(member, consents, entries, self.privacy.vouchers(codes) if codes else [], older, sent)

    def erase(self, caller: Caller, member_id: str) -> Member:
        """Erase a member's personal data, forfeit its balance and free its e-mail and account for a new enrolment.

        One read and one transaction (plus the SUB# marker read for "me"). Erasing an erased member changes
        nothing and answers it as it is; an erased member is reached by id only (it is no one's "me").
        """
        email_hash = self.email_hash
        member_id = self.directory.target(caller, member_id)

        def attempt() -> Member:
            member = self.store.get_member(member_id)
            if member is not None and member.status == ERASED:
                return member  # the answer holds nothing of anyone: the id named and when it was erased
            member = caller.ensure_may_access(member, member_id)
            change = membership.erase(member, self.clock.now())
            counters = stats.counter_deltas(change.entries, time_zone=self.program.time_zone, tier_moves=change.tier_moves)
            self.privacy.erase_member(change, member.version, ledger.job_schedule(change.member, self.program), counters,
                                    email_hash(member.email), member.sub)
            return change.member

        return self.retry.run(attempt)

    def reapply_erasures(self, member_ids: Iterable[str]) -> list[str]:
        """After a point-in-time restore: erase again every member erased since the restore point (the ids come
        from the `erase` entries of the ledger that was live before the restore, or from the MemberErased events:
        see ops/reapply_erasures.py). Idempotent; returns the ids that were live again and are erased now."""
        system = Caller(sub="restore", scopes=frozenset({ADMIN_SCOPE}))
        erased_now = []
        for member_id in member_ids:
            before = self.store.get_member(member_id)
            if before is None or before.status == ERASED:
                continue  # enrolled after the restore point (nothing of it restored), or still erased
            self.erase(system, member_id)
            erased_now.append(member_id)
        return erased_now
