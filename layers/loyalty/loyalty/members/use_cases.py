"""The members' use cases: enrol, change a profile, find by e-mail, block and unblock, the activity.

Each makes at most two DynamoDB round trips on its normal path (one read, one transactional write); a lost race is
decided again on a fresh read (the retry policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from loyalty.clock import Clock
from loyalty.core.directory import Directory
from loyalty.core.ledger import commit, consent_by
from loyalty.core.retry import RetryPolicy
from loyalty.domain import errors, ledger, membership, stats
from loyalty.domain.access import Caller
from loyalty.domain.calendar import day_start
from loyalty.domain.model import ACTIVE, BLOCKED, Entry, Member, Profile, new_member_id
from loyalty.members.store import MemberStore
from loyalty.core.programs import Programs
from loyalty.program import Program
from loyalty.store.transaction import LostRace, ReferralCodeTaken


def _day_bound(day: date, days_after: int, time_zone: str) -> datetime | None:
    """The instant `days_after` days after `day` begins; None beyond the calendar (no bound on that side)."""
    try:
        return day_start(day + timedelta(days=days_after), time_zone).astimezone(timezone.utc)
    except OverflowError:
        return None


@dataclass
class Members:
    members: MemberStore
    directory: Directory
    clock: Clock
    programs: Programs  # the program's versions, cached
    email_hash: Callable[[str], str]
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def program(self) -> Program:
        """The program version in force now (`programs` caches the versions at most 60 s)."""
        return self.programs.current()

    @property
    def store(self):
        return self.members.store

    def enroll(
        self, caller: Caller, *, email: str, channel: str, name: str | None = None, phone: str | None = None,
        birthday: date | None = None, marketing_opt_in: bool = False, referral_code: str | None = None,
        locale: str | None = None,
    ) -> Member:
        email_hasher = self.email_hash
        sub = caller.sub if caller.is_member else None  # a member token links the new member to itself
        if caller.is_member and not sub:
            raise errors.Forbidden("a member token must name its subject (sub)")
        caller.ensure_may_use_email(email)  # before any read: a squatted address is refused, nothing written
        referrer_id = None
        if referral_code:
            referrer_id = self.members.member_id_for_referral_code(referral_code.upper())
            if referrer_id is None:
                raise errors.InvalidReferralCode(f"no member has the referral code {referral_code}")
        member_id = new_member_id()  # never derived from the subject: an erased member's ledger stays unlinkable
        email_hash = email_hasher(email)
        profile = Profile(email, channel, name, phone, birthday, marketing_opt_in, locale)

        def attempt() -> Member:
            now = self.clock.now()
            change = membership.enroll(member_id, profile, self.program, now, sub=sub, referred_by=referrer_id)
            counters = stats.counter_deltas(
                change.entries, time_zone=self.program.time_zone, enrolled=change.member, tier_moves=change.tier_moves,
            )
            self.members.create_member(change, email_hash, ledger.job_schedule(change.member, self.program), counters,
                                     consent_by=consent_by(caller))
            return change.member

        # A taken referral code gets a fresh random one on the next try; a conflict, a fresh read.
        try:
            return self.retry.run(attempt, (ReferralCodeTaken, LostRace), "could not enroll now; nothing was written, please retry")
        except errors.AlreadyEnrolled as taken:
            # The e-mail may be held by this very enrolment: a try applied, its answer lost (the SDK retried it, or
            # the conflict came on our next try). Then it is answered as that try would have been.
            if self.members.member_id_for_email(email_hash) == member_id and (mine := self.store.get_member(member_id)):
                return mine
            raise self._naming_holder(caller, taken, email_hash) from taken

    def _naming_holder(self, caller: Caller, taken: errors.AlreadyEnrolled, email_hash: str) -> errors.AlreadyEnrolled:
        """Staff may learn who holds the e-mail (a till then finds the customer); a member token never does."""
        holder = self.members.member_id_for_email(email_hash) if caller.is_staff else None
        return errors.AlreadyEnrolled(taken.message, member_id=holder) if holder else taken

    def update_profile(self, caller: Caller, member_id: str, changes: dict[str, object]) -> Member:
        """Change profile fields (one read, one transaction; nothing written when nothing changes). A new e-mail's
        uniqueness marker moves in the member's transaction; a consent change is recorded in it."""
        by = consent_by(caller)  # refused before anything is written when the token names no one
        if "email" in changes:
            caller.ensure_may_use_email(str(changes["email"]))
        email_hash = self.email_hash if "email" in changes else None

        def attempt() -> Member:
            member = caller.ensure_may_access(self.store.get_member(member_id), member_id)
            update = membership.update_profile(member, changes, self.clock.now(), by_member=caller.is_member)
            if update is None:
                return member
            hashes = (email_hash(update.email_before), email_hash(update.member.email)) if update.email_before else None
            self.members.update_profile(update, member.version, ledger.job_schedule(update.member, self.program), hashes, by)
            return update.member

        try:
            return self.retry.run(attempt)
        except errors.AlreadyEnrolled as taken:
            raise self._naming_holder(caller, taken, email_hash(str(changes["email"]))) from taken

    def find_by_email(self, caller: Caller, email: str) -> Member | None:
        """The member enrolled with this e-mail (any case), through its uniqueness marker: two reads, no scan."""
        member_id = self.members.member_id_for_email(self.email_hash(email))
        member = self.store.get_member(member_id) if member_id else None
        return caller.ensure_may_access(member, member_id) if member else None

    def block(self, caller: Caller, member_id: str, reason: str) -> Member:
        return self._set_status(caller, member_id, BLOCKED, reason)

    def unblock(self, caller: Caller, member_id: str) -> Member:
        return self._set_status(caller, member_id, ACTIVE)

    def _set_status(self, caller: Caller, member_id: str, status: str, reason: str | None = None) -> Member:
        """Idempotent: a member already in that status is answered as it is, with nothing written."""

        def attempt() -> Member:
            member = caller.ensure_may_access(self.store.get_member(member_id), member_id)
            change = membership.set_status(member, status, self.clock.now(), reason)
            if change is None:
                return member
            commit(self.store, self.program, change, {member.member_id: member.version})
            return change.member

        return self.retry.run(attempt)

    def activity(
        self, caller: Caller, member_id: str, limit: int, cursor: str | None,
        start: date | None = None, end: date | None = None,
    ) -> tuple[list[Entry], str | None]:
        """A page of the ledger, optionally of the days [start, end] in the program's time zone.

        The member is read first (access, and an erased member's entries are not shown), or for "me" its
        SUB# marker, which exists only while the member does: two round trips in all.
        """
        if start and end and end < start:
            raise errors.InvalidRange("`to` is before `from`")
        if member_id == "me" and caller.names_self:
            member_id = self.directory.target(caller, member_id)
        else:
            member_id = self.directory.member(caller, member_id).member_id
        since = _day_bound(start, 0, self.program.time_zone) if start else None
        until = _day_bound(end, 1, self.program.time_zone) if end else None
        return self.members.activity(member_id, limit, cursor, since, until)

