"""What every use case that writes the ledger shares: its outcome, the fingerprint that tells a replay from a
reused key, and the commit that derives a change's job schedules and report counters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from loyalty.domain import stats
from loyalty.domain.ledger import Change, job_schedule
from loyalty.domain.model import Entry
from loyalty.domain.access import Caller
from loyalty.program import Program
from loyalty.store.ledger import Store, Write
from loyalty.domain import errors


@dataclass(frozen=True)
class Outcome:
    """A ledger entry written (or found, when `replayed`) by a use case."""

    entry: Entry
    replayed: bool


def request_hash(payload: dict) -> str:
    """Fingerprint of what a request asked for, to tell a replay from a reused key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def replay(entry: Entry, fingerprint: str, what: str, written: Iterable[str] = ()) -> Outcome:
    """A request's entry found on a read. `written`: the entry ids this call tried to write; an entry among them is
    this call's own, applied by a try whose answer was lost (a dropped connection, a timeout): it is answered as
    that try would have been, not as the replay of an earlier request."""
    if entry.request_hash != fingerprint:
        raise errors.IdempotencyKeyReused(f"this {what} was already used with a different request")
    return Outcome(entry, replayed=entry.entry_id not in written)


def counter_deltas(change: Change, program: Program) -> stats.Counters:
    """The report counters a change moves."""
    return stats.counter_deltas(change.entries, time_zone=program.time_zone, tier_moves=change.tier_moves)


def commit(store: Store, program: Program, change: Change, base_versions: dict[str, int], writes: Iterable[Write] = ()) -> None:
    """Write a change in the ledger's one transaction, with each member's job schedule and the report counters."""
    schedules = {member.member_id: job_schedule(member, program) for member in change.members}
    store.commit(change, base_versions, schedules, counter_deltas(change, program), writes)


def consent_by(caller: Caller) -> str:
    """Who gave or changed a consent, as its record keeps it: the member themself, or the staff token's sub or client_id."""
    return "member" if caller.is_member else caller.actor
