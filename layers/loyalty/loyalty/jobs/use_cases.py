"""The scheduled jobs' use cases, one member at a time: expiry with its reminders, the tier review, the birthday
bonus. Each is safe to repeat (a redelivered batch changes nothing twice)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from loyalty.clock import Clock
from loyalty.core.ledger import commit
from loyalty.core.retry import RetryPolicy
from loyalty.domain import ledger, scheduled
from loyalty.domain.birthday import bonus_ref
from loyalty.core.programs import Programs
from loyalty.program import Program
from loyalty.store.ledger import Store


@dataclass
class ScheduledJobs:
    store: Store
    clock: Clock
    programs: Programs  # the program's versions, cached
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def program(self) -> Program:
        """The program version in force now (`programs` caches the versions at most 60 s)."""
        return self.programs.current()

    def check_job_time(self, as_of: datetime) -> None:
        ledger.check_job_time(as_of, self.clock.now())

    def expire_member(self, as_of: datetime, member_id: str) -> int:
        """Expire what is past due at `as_of` for one member and record its reminders; returns the points expired.

        Safe to repeat: what expired is gone from the lots and reminded lots are remembered, both in the
        same version-checked write as the `expire` ledger entry, which is never dated after the clock.
        """
        self.check_job_time(as_of)

        def attempt() -> int:
            member = self.store.get_member(member_id)
            recorded_at = min(as_of, self.clock.now())
            change = scheduled.expire_and_remind(member, self.program, as_of, recorded_at) if member else None
            if change is None:
                return 0
            commit(self.store, self.program, change, {member_id: member.version})
            return -sum(entry.points for entry in change.entries)

        return self.retry.run(attempt)

    def review_member(self, as_of: datetime, member_id: str) -> bool:
        """Run the tier review of `as_of`'s month for one member; returns whether the tier changed."""
        self.check_job_time(as_of)

        def attempt() -> bool:
            member = self.store.get_member(member_id)
            change = scheduled.review_tier(member, self.program, as_of) if member else None
            if change is None:
                return False
            commit(self.store, self.program, change, {member_id: member.version})
            return bool(change.tier_moves)

        return self.retry.run(attempt)

    def birthday_member(self, as_of: datetime, member_id: str) -> int:
        """Credit the birthday bonus of `as_of`'s local day to one member if due; returns the points credited.

        Once a year: the entry's key names the year, so a member whose entry exists (read with the member,
        one round trip) is skipped, and a concurrent duplicate loses its write and rereads.
        """
        self.check_job_time(as_of)
        ref = bonus_ref(as_of, self.program)

        def attempt() -> int:
            member, entries = self.store.get_member_and_entries(member_id, [ref])
            if member is None or ref in entries:
                return 0
            change = scheduled.birthday_bonus(member, self.program, as_of, min(as_of, self.clock.now()))
            if change is None:
                return 0
            commit(self.store, self.program, change, {member_id: member.version})
            return change.entry.points

        return self.retry.run(attempt)
