"""The earning use cases: credit a purchase (with the active campaigns), preview it, take back a return, adjust.

Each makes at most two DynamoDB round trips on its normal path (one read, one transactional write); a replay is
answered from the read alone, and a lost race is decided again on a fresh read (the retry policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loyalty.clock import Clock
from loyalty.core.ledger import Outcome, commit, counter_deltas, replay, request_hash
from loyalty.core.programs import Programs
from loyalty.core.retry import RetryPolicy
from loyalty.domain import earning, errors, ledger, stats
from loyalty.domain.access import Caller
from loyalty.domain.model import EntryRef, Purchase
from loyalty.earning.store import EarnStore
from loyalty.program import Program
from loyalty.store.ledger import Store

if TYPE_CHECKING:  # the campaign engine is imported when an earn evaluates campaigns
    from loyalty.domain.campaigns.document import Campaign
    from loyalty.domain.facts import RfmBoundaries
    from loyalty.domain.segments import Segment


def no_campaigns() -> list[Campaign]:
    return []


def no_segments() -> list[Segment]:
    return []


def no_boundaries() -> RfmBoundaries | None:
    return None


@dataclass
class Earning:
    store: Store
    earning: EarnStore
    clock: Clock
    programs: Programs  # the program's versions, cached: a purchase earns under the one in force at occurred_at
    campaigns: Callable[[], list[Campaign]] = no_campaigns  # the active campaigns (a cache of them in the earn function)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    segments: Callable[[], list[Segment]] = no_segments  # the segments audiences name (a cache of them)
    rfm: Callable[[], RfmBoundaries | None] = no_boundaries  # the published RFM boundaries (a cache of them)

    @property
    def program(self) -> Program:
        """The version in force now: what settles lots, returns and adjustments."""
        return self.programs.current()

    def earn(self, caller: Caller, member_id: str, purchase: Purchase, payload: dict) -> Outcome:
        """Credit a purchase: one read (member, entry, the campaigns' limit counters), one transaction."""
        # only the earn function loads the campaign engine
        from loyalty.domain.campaigns.shards import (
            TRANSACTION_ITEMS, statistics_later, stored_keys, totals, within_transaction,
        )

        ref, fingerprint = EntryRef("earn", purchase.transaction_id), request_hash(payload)
        written: list[str] = []

        def attempt() -> Outcome:
            now, active = self.clock.now(), self.campaigns()
            segments = self._segments_for(active)
            history, purchased_at = self.programs.history(), purchase.occurred_at or now
            version, program = history.for_purchase(purchased_at, now)
            tier_versions = history.multiplier_versions(purchased_at, now)
            selection = earning.select_campaigns(active, program, purchase, now)
            member, entries, read = self.earning.get_for_earn(member_id, [ref], stored_keys(selection.counters))
            member = caller.ensure_may_access(member, member_id)
            if ref in entries:
                return replay(entries[ref], fingerprint, "transaction_id", written)
            referrer = self.store.get_member(member.referred_by) if earning.referral_due(member) and member.referred_by else None

            def decide(shards_read) -> ledger.Change:
                change = earning.earn(member, program, purchase, now, request_hash=fingerprint, referrer=referrer,
                                    campaigns=active, counters=totals(shards_read), segments=segments,
                                    rfm=self.rfm() if active else None, program_version=version.version,
                                    tier_versions=tier_versions)
                stats.note_purchase_days(change, program.time_zone)
                return change

            def room(change: ledger.Change) -> int:  # the transaction's items its campaign counters may take
                return TRANSACTION_ITEMS - self.store.items_besides_campaigns(change, counter_deltas(change, program))

            # Only the counters that guard a limit ride in the transaction; the campaigns' statistics that no limit
            # counts are the ledger stream's to add (the entry names them).
            change, increments = within_transaction(
                decide, lambda change: change.award.increments if change.award else (), room, read, selection.considered,
                purchase.occurred_at or now, time_zone=program.time_zone, home=self.earning.campaign_shard(member_id),
            )
            change.entry.statistics_later = " ".join(statistics_later(change.award)) or None
            versions = {member.member_id: member.version}
            if referrer:
                versions[referrer.member_id] = referrer.version
            written.append(change.entry.entry_id)
            commit(self.store, program, change, versions,
                   [self.earning.campaign_counters(member.member_id, increments)])
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    def _segments_for(self, active: list[Campaign]) -> list[Segment]:
        """The segments, read (through their cache) only when an active campaign has an audience."""
        return self.segments() if any(campaign.audience for campaign in active) else []

    def preview(self, caller: Caller, member_id: str, purchase: Purchase) -> ledger.Change:
        """What `earn` would credit now and why (the change it would write, with the campaigns' award): one read.

        The rules are those of earn: a blocked member, a foreign currency or an out-of-range time are refused alike.
        """
        from loyalty.domain.campaigns.shards import stored_keys, totals

        now, active = self.clock.now(), self.campaigns()
        history, purchased_at = self.programs.history(), purchase.occurred_at or now
        version, program = history.for_purchase(purchased_at, now)
        selection = earning.select_campaigns(active, program, purchase, now)
        member, _, read = self.earning.get_for_earn(member_id, [], stored_keys(selection.counters))
        member = caller.ensure_may_access(member, member_id)
        return earning.earn(member, program, purchase, now, request_hash="", campaigns=active, counters=totals(read),
                            segments=self._segments_for(active), rfm=self.rfm() if active else None,
                            program_version=version.version, tier_versions=history.multiplier_versions(purchased_at, now))

    def return_purchase(
        self, caller: Caller, member_id: str, *, transaction_id: str, return_id: str, amount_minor: int, payload: dict,
    ) -> Outcome:
        ref, purchase_ref, fingerprint = EntryRef("return", return_id), EntryRef("earn", transaction_id), request_hash(payload)
        written: list[str] = []

        def attempt() -> Outcome:
            member, entries = self.store.get_member_and_entries(member_id, [ref, purchase_ref])
            member = caller.ensure_may_access(member, member_id)
            if ref in entries:
                return replay(entries[ref], fingerprint, "return_id", written)
            purchase = entries.get(purchase_ref)
            if purchase is None:
                raise errors.PurchaseNotFound(f"no purchase {transaction_id} for member {member_id}")
            # What the purchase earned is on its entry (under its own version); the version in force now settles lots.
            change, updated_purchase = earning.return_purchase(
                member, purchase, return_id=return_id, amount_minor=amount_minor, now=self.clock.now(),
                request_hash=fingerprint, program=self.program,
            )
            change.entry.program_version = purchase.program_version
            written.append(change.entry.entry_id)
            commit(self.store, self.program, change, {member.member_id: member.version},
                   [self.earning.returned(updated_purchase, purchase.refunded_minor or 0)])
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    def adjust(self, caller: Caller, member_id: str, *, idempotency_key: str, points: int, reason: str,
               payload: dict) -> Outcome:
        """Credit or debit with a reason; idempotent forever on the key, like a redemption (one read, one write)."""
        ref, fingerprint, actor = EntryRef("adjust", idempotency_key), request_hash(payload), caller.actor
        written: list[str] = []

        def attempt() -> Outcome:
            member, entries = self.store.get_member_and_entries(member_id, [ref])
            member = caller.ensure_may_access(member, member_id)
            if ref in entries:
                return replay(entries[ref], fingerprint, "Idempotency-Key", written)
            change = earning.adjust(member, self.program, self.clock.now(), idempotency_key=idempotency_key, points=points,
                                  reason=reason, actor=actor, request_hash=fingerprint)
            written.append(change.entry.entry_id)
            commit(self.store, self.program, change, {member.member_id: member.version})
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

