"""The use cases: load, decide with the domain rules, commit; a lost race is retried.

`Loyalty` is given its collaborators (store, clock, program, and where a function needs them the
catalog and the e-mail hasher); a handler builds one at cold start from its settings, a test
builds one with a FixedClock. Each use case makes at most two DynamoDB round trips on its normal
path (one read, one transactional write); a replay is answered from the read alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cache, cached_property
from typing import TYPE_CHECKING, TypeVar

from loyalty.clock import Clock
from loyalty.domain import errors, rules, stats
from loyalty.domain.access import ADMIN_SCOPE, Caller
from loyalty.domain.birthday import bonus_ref
from loyalty.domain.model import (
    ACTIVE,
    BLOCKED,
    ERASED,
    Consent,
    Entry,
    EntryRef,
    Member,
    Profile,
    Purchase,
    Redemption,
    Reward,
    Voucher,
    new_member_id,
)
from loyalty.program import Program, load_program
from loyalty.settings import (
    ApiSettings, CatalogSettings, ConfigurationError, EarnSettings, EmailHashSettings, RewardAdminSettings,
)
from loyalty.store.catalog import RewardStore
from loyalty.store.repository import LostRace, ReferralCodeTaken, Store

if TYPE_CHECKING:  # the campaign engine and its store are imported only where campaigns are evaluated
    from loyalty.domain.campaigns import Campaign
    from loyalty.store.campaigns import CampaignStore

T = TypeVar("T")
MAX_REPORT_DAYS = stats.MAX_REPORT_DAYS
# The export's cost ceiling: the newest this many ledger entries (about 1 MB read, well under Lambda's 6 MB answer);
# older ones are read through the activity, from the cursor the export gives.
MAX_EXPORT_ENTRIES = 1000


def cold_start(build: Callable[[], T]) -> Callable[[], T]:
    """A handler's composition, built once per instance.

    In Lambda (and the local runtime), where AWS_LAMBDA_FUNCTION_NAME is set, it is built at once, so a
    function missing its configuration fails its cold start with a message naming what is missing.
    Elsewhere (a tool importing the handler for its OpenAPI) it is built on first use.
    """
    built = cache(build)
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        built()
    return built


@dataclass(frozen=True)
class Outcome:
    """A ledger entry written (or found, when `replayed`) by a use case."""

    entry: Entry
    replayed: bool


@dataclass(frozen=True)
class MemberExport:
    """Everything held about one member (GET /v1/members/{id}/export)."""

    member: Member
    consents: list[Consent]  # oldest first
    entries: list[Entry]  # newest first, as the activity; at most MAX_EXPORT_ENTRIES
    vouchers: list[Voucher]  # by issue time
    next_cursor: str | None = None  # the activity's cursor of the entries older than these (None: none)


@dataclass(frozen=True)
class RewardsPage:
    items: list[tuple[Reward, bool]]  # each reward with whether the caller may redeem it now
    next_cursor: str | None


def request_hash(payload: dict) -> str:
    """Fingerprint of what a request asked for, to tell a replay from a reused key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


# Drawn from os.urandom at each call: copies of one SnapStart snapshot must not share a seed, or racing
# instances would back off in step and collide again.
_JITTER = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy of the use cases: a bounded number of tries with jittered exponential backoff."""

    attempts: int = 6
    base_delay_seconds: float = 0.005
    sleep: Callable[[float], None] = time.sleep

    def run(self, attempt: Callable[[], T], retry_on: tuple[type[Exception], ...] = (LostRace,),
            exhausted: str = "the member is being changed by other requests; nothing was written, please retry") -> T:
        for tries in range(self.attempts):
            try:
                return attempt()
            except retry_on:
                if tries + 1 < self.attempts:
                    self.sleep(_JITTER.uniform(0, self.base_delay_seconds * 2**tries))
        raise errors.Busy(exhausted)


class Catalog:
    """The rewards catalog, kept for `ttl_seconds` in the warm function (read with one Query when stale)."""

    def __init__(self, load: Callable[[], list[Reward]], ttl_seconds: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._load, self._ttl, self._monotonic = load, ttl_seconds, monotonic
        self._loaded_at: float | None = None
        self._rewards: list[Reward] = []

    def rewards(self) -> list[Reward]:
        now = self._monotonic()
        if self._loaded_at is None or now - self._loaded_at > self._ttl:
            self._rewards, self._loaded_at = self._load(), now
        return self._rewards

    def find(self, reward_id: str) -> Reward:
        """The reward, active or not (whether it may be redeemed is the rules' call)."""
        for reward in self.rewards():
            if reward.reward_id == reward_id:
                return reward
        raise errors.RewardNotFound(f"no reward {reward_id}")


class Campaigns:
    """The active campaigns of a `CampaignStore`, kept for `ttl_seconds` (at most 60) in the warm earn function
    (one Query when stale)."""

    def __init__(self, store: CampaignStore, ttl_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store, self._ttl, self._monotonic = store, ttl_seconds, monotonic
        self._loaded_at: float | None = None
        self._active: list[Campaign] = []

    def active(self) -> list[Campaign]:
        now = self._monotonic()
        if self._loaded_at is None or now - self._loaded_at > self._ttl:
            self._active, self._loaded_at = self.store.active(), now
        return self._active

    def on_request(self, hook: Callable[[str, dict], None]) -> None:
        """Call `hook(operation, params)` before each DynamoDB request of the campaigns' store (benchmarks count them)."""
        self.store.on_request(hook)


class EmailHasher:
    """The keyed hash (HMAC) of e-mails used as their uniqueness key.

    The key is an SSM SecureString (read once, on first use, so only enrollments pay for it) or,
    locally and in tests, given directly.
    """

    def __init__(self, key: str | None = None, parameter_name: str | None = None, region: str | None = None) -> None:
        if (key is None) == (parameter_name is None):
            raise ValueError("give the key or the name of the parameter that holds it")
        self._key, self._parameter_name, self._region = key, parameter_name, region

    @classmethod
    def from_settings(cls, settings: EmailHashSettings) -> EmailHasher:
        return cls(settings.email_hash_key, settings.email_hash_key_parameter, settings.aws_region)

    @cached_property
    def key(self) -> bytes:
        if self._key is not None:
            return self._key.encode()
        import boto3  # only enrollments need these
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        provider = SSMProvider(boto3_client=boto3.client("ssm", region_name=self._region))
        return str(provider.get(self._parameter_name, decrypt=True)).encode()

    def __call__(self, email: str) -> str:
        return hmac.new(self.key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def _consent_by(caller: Caller) -> str:
    """Who gave or changed a consent, as its record keeps it: the member themself, or the staff token's sub or client_id."""
    return "member" if caller.is_member else caller.actor


def _day_bound(day: date, days_after: int, time_zone: str) -> datetime | None:
    """The instant `days_after` days after `day` begins; None beyond the calendar (no bound on that side)."""
    try:
        return stats.day_start(day + timedelta(days=days_after), time_zone).astimezone(timezone.utc)
    except OverflowError:
        return None


class SubjectDirectory:
    """Token subject -> member id, as the SUB# markers said, for the life of a warm instance (bounded, least
    recently used out first). A subject's member only changes through an erasure (the member loses its subject)
    and a new enrolment, so an entry is checked against the member it names on every use."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, str] = OrderedDict()

    def get(self, sub: str) -> str | None:
        member_id = self._ids.get(sub)
        if member_id is not None:
            self._ids.move_to_end(sub)
        return member_id

    def remember(self, sub: str, member_id: str) -> None:
        self._ids[sub] = member_id
        self._ids.move_to_end(sub)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def forget(self, sub: str) -> None:
        self._ids.pop(sub, None)


@dataclass
class Loyalty:
    store: Store
    clock: Clock
    program: Program
    catalog: Catalog | None = None  # the functions that serve rewards
    email_hash: Callable[[str], str] | None = None  # the functions that enroll
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    campaigns: Campaigns | None = None  # the function that earns (None: no campaign applies)
    subjects: SubjectDirectory = field(default_factory=SubjectDirectory)  # "me" -> member id, per warm instance
    max_export_entries: int = MAX_EXPORT_ENTRIES  # the export's ceiling (a test sets a small one)

    @classmethod
    def from_settings(
        cls, settings: ApiSettings, clock: Clock, email_hash: Callable[[str], str] | None = None,
    ) -> Loyalty:
        """The composition a function makes once per cold start."""
        store = Store.from_settings(settings)
        catalog = None
        if isinstance(settings, CatalogSettings):
            catalog = Catalog(store.rewards, settings.catalog_cache_seconds)
        campaigns = None
        if isinstance(settings, EarnSettings):
            from loyalty.store.campaigns import CampaignStore  # here: only the earn function loads the campaign engine

            campaign_store = CampaignStore.from_table(settings.catalog_table, settings.aws_region,
                                                      settings.aws_endpoint_url_dynamodb)
            campaigns = Campaigns(campaign_store, settings.campaign_cache_seconds)
        return cls(store, clock, load_program(settings.program_file), catalog=catalog, email_hash=email_hash,
                   campaigns=campaigns)

    # -------------------------------------------------------------- writing

    def _commit(self, change: rules.Change, base_versions: dict[str, int], **extra) -> None:
        schedules = {member.member_id: rules.job_schedule(member, self.program) for member in change.members}
        self.store.commit(change, base_versions, schedules, self._counter_deltas(change), **extra)

    def _counter_deltas(self, change: rules.Change) -> stats.Counters:
        return stats.counter_deltas(change.entries, time_zone=self.program.time_zone, tier_moves=change.tier_moves)

    @staticmethod
    def _replay(entry: Entry, fingerprint: str, what: str, written: Iterable[str] = ()) -> Outcome:
        """A request's entry found on a read. `written`: the entry ids this call tried to write; an entry among
        them is this call's own, applied by a try whose answer was lost (a dropped connection, a timeout): it is
        answered as that try would have been, not as the replay of an earlier request."""
        if entry.request_hash != fingerprint:
            raise errors.IdempotencyKeyReused(f"this {what} was already used with a different request")
        return Outcome(entry, replayed=entry.entry_id not in written)

    # -------------------------------------------------------------- enroll

    def enroll(
        self, caller: Caller, *, email: str, channel: str, name: str | None = None, phone: str | None = None,
        birthday: date | None = None, marketing_opt_in: bool = False, referral_code: str | None = None,
    ) -> Member:
        email_hasher = self._email_hash()
        sub = caller.sub if caller.is_member else None  # a member token links the new member to itself
        if caller.is_member and not sub:
            raise errors.Forbidden("a member token must name its subject (sub)")
        caller.ensure_may_use_email(email)  # before any read: a squatted address is refused, nothing written
        referrer_id = None
        if referral_code:
            referrer_id = self.store.member_id_for_referral_code(referral_code.upper())
            if referrer_id is None:
                raise errors.InvalidReferralCode(f"no member has the referral code {referral_code}")
        member_id = new_member_id()  # never derived from the subject: an erased member's ledger stays unlinkable
        email_hash = email_hasher(email)
        profile = Profile(email, channel, name, phone, birthday, marketing_opt_in)

        def attempt() -> Member:
            now = self.clock.now()
            change = rules.enroll(member_id, profile, self.program, now, sub=sub, referred_by=referrer_id)
            counters = stats.counter_deltas(
                change.entries, time_zone=self.program.time_zone, enrolled=change.member, tier_moves=change.tier_moves,
            )
            self.store.create_member(change, email_hash, rules.job_schedule(change.member, self.program), counters,
                                     consent_by=_consent_by(caller))
            return change.member

        # A taken referral code gets a fresh random one on the next try; a conflict, a fresh read.
        try:
            return self.retry.run(attempt, (ReferralCodeTaken, LostRace), "could not enroll now; nothing was written, please retry")
        except errors.AlreadyEnrolled as taken:
            # The e-mail may be held by this very enrolment: a try applied, its answer lost (the SDK retried it, or
            # the conflict came on our next try). Then it is answered as that try would have been.
            if self.store.member_id_for_email(email_hash) == member_id and (mine := self.store.get_member(member_id)):
                return mine
            raise self._naming_holder(caller, taken, email_hash) from taken

    def _naming_holder(self, caller: Caller, taken: errors.AlreadyEnrolled, email_hash: str) -> errors.AlreadyEnrolled:
        """Staff may learn who holds the e-mail (a till then finds the customer); a member token never does."""
        holder = self.store.member_id_for_email(email_hash) if caller.is_staff else None
        return errors.AlreadyEnrolled(taken.message, member_id=holder) if holder else taken

    def update_profile(self, caller: Caller, member_id: str, changes: dict[str, object]) -> Member:
        """Change profile fields (one read, one transaction; nothing written when nothing changes). A new e-mail's
        uniqueness marker moves in the member's transaction; a consent change is recorded in it."""
        by = _consent_by(caller)  # refused before anything is written when the token names no one
        if "email" in changes:
            caller.ensure_may_use_email(str(changes["email"]))
        email_hash = self._email_hash() if "email" in changes else None

        def attempt() -> Member:
            member = caller.ensure_may_access(self.store.get_member(member_id), member_id)
            update = rules.update_profile(member, changes, self.clock.now(), by_member=caller.is_member)
            if update is None:
                return member
            hashes = (email_hash(update.email_before), email_hash(update.member.email)) if update.email_before else None
            self.store.update_profile(update, member.version, rules.job_schedule(update.member, self.program), hashes, by)
            return update.member

        try:
            return self.retry.run(attempt)
        except errors.AlreadyEnrolled as taken:
            raise self._naming_holder(caller, taken, email_hash(str(changes["email"]))) from taken

    def _email_hash(self) -> Callable[[str], str]:
        if self.email_hash is None:
            raise ConfigurationError("this function was composed without the e-mail hash key")
        return self.email_hash

    def find_by_email(self, caller: Caller, email: str) -> Member | None:
        """The member enrolled with this e-mail (any case), through its uniqueness marker: two reads, no scan."""
        member_id = self.store.member_id_for_email(self._email_hash()(email))
        member = self.store.get_member(member_id) if member_id else None
        return caller.ensure_may_access(member, member_id) if member else None

    # -------------------------------------------------------------- earn and return

    def earn(self, caller: Caller, member_id: str, purchase: Purchase, payload: dict) -> Outcome:
        """Credit a purchase: one read (member, entry, the campaigns' limit counters), one transaction."""
        # only the earn function loads the campaign engine
        from loyalty.domain.campaigns import TRANSACTION_ITEMS, statistics_later, stored_keys, totals, within_transaction

        ref, fingerprint = EntryRef("earn", purchase.transaction_id), request_hash(payload)
        written: list[str] = []

        def attempt() -> Outcome:
            now, active = self.clock.now(), self._active_campaigns()
            selection = rules.select_campaigns(active, self.program, purchase, now)
            member, entries, read = self.store.get_for_earn(member_id, [ref], stored_keys(selection.counters))
            member = caller.ensure_may_access(member, member_id)
            if ref in entries:
                return self._replay(entries[ref], fingerprint, "transaction_id", written)
            referrer = self.store.get_member(member.referred_by) if rules.referral_due(member) and member.referred_by else None

            def decide(shards_read) -> rules.Change:
                change = rules.earn(member, self.program, purchase, now, request_hash=fingerprint, referrer=referrer,
                                    campaigns=active, counters=totals(shards_read))
                stats.note_purchase_days(change, self.program.time_zone)
                return change

            def room(change: rules.Change) -> int:  # the transaction's items its campaign counters may take
                return TRANSACTION_ITEMS - self.store.items_besides_campaigns(change, self._counter_deltas(change))

            # Only the counters that guard a limit ride in the transaction; the campaigns' statistics that no limit
            # counts are the ledger stream's to add (the entry names them).
            change, increments = within_transaction(
                decide, lambda change: change.award.increments if change.award else (), room, read, selection.considered,
                purchase.occurred_at or now, time_zone=self.program.time_zone, home=self.store.campaign_shard(member_id),
            )
            change.entry.statistics_later = " ".join(statistics_later(change.award)) or None
            versions = {member.member_id: member.version}
            if referrer:
                versions[referrer.member_id] = referrer.version
            written.append(change.entry.entry_id)
            self._commit(change, versions, campaign_increments=increments)
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    def preview(self, caller: Caller, member_id: str, purchase: Purchase) -> rules.Change:
        """What `earn` would credit now and why (the change it would write, with the campaigns' award): one read.

        The rules are those of earn: a blocked member, a foreign currency or an out-of-range time are refused alike.
        """
        from loyalty.domain.campaigns import stored_keys, totals

        now, active = self.clock.now(), self._active_campaigns()
        selection = rules.select_campaigns(active, self.program, purchase, now)
        member, _, read = self.store.get_for_earn(member_id, [], stored_keys(selection.counters))
        member = caller.ensure_may_access(member, member_id)
        return rules.earn(member, self.program, purchase, now, request_hash="", campaigns=active, counters=totals(read))

    def _active_campaigns(self) -> list[Campaign]:
        return self.campaigns.active() if self.campaigns else []

    def return_purchase(
        self, caller: Caller, member_id: str, *, transaction_id: str, return_id: str, amount_minor: int, payload: dict,
    ) -> Outcome:
        ref, purchase_ref, fingerprint = EntryRef("return", return_id), EntryRef("earn", transaction_id), request_hash(payload)
        written: list[str] = []

        def attempt() -> Outcome:
            member, entries = self.store.get_member_and_entries(member_id, [ref, purchase_ref])
            member = caller.ensure_may_access(member, member_id)
            if ref in entries:
                return self._replay(entries[ref], fingerprint, "return_id", written)
            purchase = entries.get(purchase_ref)
            if purchase is None:
                raise errors.PurchaseNotFound(f"no purchase {transaction_id} for member {member_id}")
            change, updated_purchase = rules.return_purchase(
                member, purchase, return_id=return_id, amount_minor=amount_minor, now=self.clock.now(),
                request_hash=fingerprint, program=self.program,
            )
            written.append(change.entry.entry_id)
            self._commit(change, {member.member_id: member.version},
                         purchase_update=(updated_purchase, purchase.refunded_minor or 0))
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    # -------------------------------------------------------------- rewards and redemptions

    def _catalog(self) -> Catalog:
        if self.catalog is None:
            raise ConfigurationError("this function was composed without the catalog")
        return self.catalog

    def caller_tier(self, caller: Caller) -> str | None:
        """The tier a member token's rewards are offered for; None for staff, who see every reward."""
        if not caller.is_member:
            return None
        member_id = self.store.member_id_for_sub(caller.sub) if caller.sub else None
        member = self.store.get_member(member_id) if member_id else None
        return member.tier if member and member.status != ERASED else self.program.base_tier.name

    def rewards_page(self, caller: Caller, limit: int, cursor: str | None) -> RewardsPage:
        """The active rewards by id, `limit` at a time after `cursor` (the last id of the previous page)."""
        tier = self.caller_tier(caller)
        active = sorted((reward for reward in self._catalog().rewards() if reward.active), key=lambda reward: reward.reward_id)
        after = [reward for reward in active if cursor is None or reward.reward_id > cursor]
        page = after[:limit]
        return RewardsPage(
            items=[(reward, rules.reward_available(reward, self.program, tier, self.clock.now())) for reward in page],
            next_cursor=page[-1].reward_id if len(after) > limit else None,
        )

    def redeem(
        self, caller: Caller, member_id: str, *, idempotency_key: str, payload: dict,
        reward_id: str | None = None, points: int | None = None,
    ) -> Outcome:
        ref, fingerprint = EntryRef("redeem", idempotency_key), request_hash(payload)
        written: list[str] = []

        def attempt() -> Outcome:
            if reward_id:  # the member's count of this reward is read with the member (its per-member limit)
                member, replay, redeemed_before = self.store.get_for_redemption(member_id, ref, reward_id)
            else:
                member, entries = self.store.get_member_and_entries(member_id, [ref])
                replay, redeemed_before = entries.get(ref), 0
            member = caller.ensure_may_access(member, member_id)
            if replay:  # answered before the catalog is consulted: a stale cache must not hide a charged redemption
                return self._replay(replay, fingerprint, "Idempotency-Key", written)
            reward = self._catalog().find(reward_id) if reward_id else None
            change = rules.redeem(
                member, self.program, self.clock.now(), idempotency_key=idempotency_key, request_hash=fingerprint,
                reward=reward, points=points, redeemed_before=redeemed_before,
            )
            stock_reward = reward if reward and reward.stock is not None else None
            written.append(change.entry.entry_id)
            self._commit(change, {member.member_id: member.version}, stock_reward=stock_reward, counted_reward=reward,
                         voucher=Voucher.of(change.entry), redemption=Redemption.of(change.entry, stock_reward is not None))
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    def cancel_redemption(self, caller: Caller, member_id: str, redemption_id: str) -> Outcome:
        """Undo a redemption whose voucher is unused: points back to the lots not expired since, stock back, voucher
        cancelled, all in one transaction with the `cancel` entry, whose key derives from the redemption's id, so a
        replay is found in the first read (one read, one write)."""

        written: list[str] = []

        def attempt() -> Outcome:
            member, redemption, cancelled = self.store.get_for_cancel(member_id, redemption_id)
            member = caller.ensure_may_access(member, member_id)
            if cancelled:
                return Outcome(cancelled, replayed=cancelled.entry_id not in written)
            if redemption is None:
                raise errors.RedemptionNotFound(f"member {member_id} has no redemption {redemption_id}")
            change = rules.cancel_redemption(member, redemption, self.clock.now(), self.program)
            written.append(change.entry.entry_id)
            self._commit(change, {member.member_id: member.version}, cancelled=redemption)
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    # -------------------------------------------------------------- back office

    def adjust(self, caller: Caller, member_id: str, *, idempotency_key: str, points: int, reason: str,
               payload: dict) -> Outcome:
        """Credit or debit with a reason; idempotent forever on the key, like a redemption (one read, one write)."""
        ref, fingerprint, actor = EntryRef("adjust", idempotency_key), request_hash(payload), caller.actor
        written: list[str] = []

        def attempt() -> Outcome:
            member, entries = self.store.get_member_and_entries(member_id, [ref])
            member = caller.ensure_may_access(member, member_id)
            if ref in entries:
                return self._replay(entries[ref], fingerprint, "Idempotency-Key", written)
            change = rules.adjust(member, self.program, self.clock.now(), idempotency_key=idempotency_key, points=points,
                                  reason=reason, actor=actor, request_hash=fingerprint)
            written.append(change.entry.entry_id)
            self._commit(change, {member.member_id: member.version})
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    def block(self, caller: Caller, member_id: str, reason: str) -> Member:
        return self._set_status(caller, member_id, BLOCKED, reason)

    def unblock(self, caller: Caller, member_id: str) -> Member:
        return self._set_status(caller, member_id, ACTIVE)

    def _set_status(self, caller: Caller, member_id: str, status: str, reason: str | None = None) -> Member:
        """Idempotent: a member already in that status is answered as it is, with nothing written."""

        def attempt() -> Member:
            member = caller.ensure_may_access(self.store.get_member(member_id), member_id)
            change = rules.set_status(member, status, self.clock.now(), reason)
            if change is None:
                return member
            self._commit(change, {member.member_id: member.version})
            return change.member

        return self.retry.run(attempt)

    # -------------------------------------------------------------- vouchers

    def voucher(self, code: str) -> Voucher:
        voucher = self.store.get_voucher(code)
        if voucher is None:
            raise errors.VoucherNotFound(f"no voucher {code}")
        return voucher

    def use_voucher(self, code: str, store_id: str | None) -> Voucher:
        """Mark the voucher used, once: a second use (from another till, at the same moment too) is refused."""
        return self.store.use_voucher(code, self.clock.now(), store_id)

    # -------------------------------------------------------------- reads

    def target(self, caller: Caller, member_id: str) -> str:
        """The member id a path names: "me" is the member enrolled with a member token's subject, found through
        its SUB# marker (one read), which erasure deletes: an erased member is no one's "me"."""
        if member_id != "me" or not caller.names_self:
            return caller.target(member_id)
        found = self.store.member_id_for_sub(str(caller.sub))
        if found is None:
            raise errors.MemberNotFound("no member is enrolled with this account")
        return found

    def member(self, caller: Caller, member_id: str) -> Member:
        """The member a path names: one read. For "me" too once this instance has seen the token's subject: the
        member id it resolved to is remembered, and the member read by it is taken only while it is live and
        still holds that subject (an erased member holds none); otherwise the SUB# marker is read again (two
        reads), so an erasure followed by a new enrolment with the same subject finds the new member."""
        if member_id == "me" and caller.names_self:
            sub = str(caller.sub)
            remembered = self.subjects.get(sub)
            if remembered is not None:
                member = self.store.get_member(remembered)
                if member is not None and member.status != ERASED and member.sub == sub:
                    return caller.ensure_may_access(member, remembered)
                self.subjects.forget(sub)
            member_id = self.target(caller, member_id)
            member = caller.ensure_may_access(self.store.get_member(member_id), member_id)
            if member.status != ERASED and member.sub == sub:
                self.subjects.remember(sub, member_id)
            return member
        member_id = self.target(caller, member_id)
        return caller.ensure_may_access(self.store.get_member(member_id), member_id)

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
            member_id = self.target(caller, member_id)
        else:
            member_id = self.member(caller, member_id).member_id
        since = _day_bound(start, 0, self.program.time_zone) if start else None
        until = _day_bound(end, 1, self.program.time_zone) if end else None
        return self.store.activity(member_id, limit, cursor, since, until)

    # -------------------------------------------------------------- privacy

    def export(self, caller: Caller, member_id: str) -> MemberExport:
        """Everything held about a member: the member, its consent changes, every ledger entry and its vouchers.

        Round trips: the member (two for "me"), the newest `max_export_entries` entries and the consent changes (a
        Query each, one page per MB), the vouchers of those entries (one BatchGet per 100 redemptions)."""
        member = self.member(caller, member_id)
        entries, consents, older = self.store.member_ledger(member.member_id, self.max_export_entries)
        codes = [entry.voucher_code for entry in entries if entry.type == "redeem" and entry.voucher_code]
        return MemberExport(member, consents, entries, self.store.vouchers(codes) if codes else [], older)

    def erase(self, caller: Caller, member_id: str) -> Member:
        """Erase a member's personal data, forfeit its balance and free its e-mail and account for a new enrolment.

        One read and one transaction (plus the SUB# marker read for "me"). Erasing an erased member changes
        nothing and answers it as it is; an erased member is reached by id only (it is no one's "me").
        """
        email_hash = self._email_hash()
        member_id = self.target(caller, member_id)

        def attempt() -> Member:
            member = self.store.get_member(member_id)
            if member is not None and member.status == ERASED:
                return member  # the answer holds nothing of anyone: the id named and when it was erased
            member = caller.ensure_may_access(member, member_id)
            change = rules.erase(member, self.clock.now())
            counters = stats.counter_deltas(change.entries, time_zone=self.program.time_zone, tier_moves=change.tier_moves)
            self.store.erase_member(change, member.version, rules.job_schedule(change.member, self.program), counters,
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

    # -------------------------------------------------------------- reports

    def program_report(self, start: date, end: date) -> stats.ProgramReport:
        """KPIs for [start, end] (days in the program's time zone) from the counters: no member or ledger read."""
        if end < start:
            raise errors.InvalidRange("`to` is before `from`")
        if (end - start).days + 1 > MAX_REPORT_DAYS:
            raise errors.InvalidRange(f"a report covers at most {MAX_REPORT_DAYS} days")
        totals, first_day, rolled_through = self.store.report_basis()
        today = stats.local_day(self.clock.now(), self.program.time_zone)
        report_plan = stats.plan(start, end, today, first_day, self.program.earn.pending_days, rolled_through)
        counters = self.store.counters(report_plan.buckets())
        return stats.build_report(report_plan, counters, totals, [tier.name for tier in self.program.tiers])

    def roll_up_counters(self, as_of: datetime, most: int = stats.ROLLUP_DAYS_PER_RUN) -> list[date]:
        """Add up the settled days not yet rolled up (at most `most`), each into its cumulative item: returns them.

        Idempotent and resumable: each day's item and the marker move together, from where the marker is, so a
        run that stops part way (or runs twice, or beside another) is taken up by the next from its last day.
        """
        self.check_job_time(as_of)
        _, first_day, rolled_through = self.store.report_basis()
        done = []
        previous = self.store.cumulative(rolled_through) if rolled_through else None
        for day in stats.roll_up_days(rolled_through, first_day, stats.local_day(as_of, self.program.time_zone), most):
            if rolled_through is not None and previous is None:
                raise errors.StoreRejected(f"the roll-up's marker says {rolled_through}, whose figures are missing",
                                           operation="roll_up_counters", cause=None, reason=None)
            figures = stats.rolled(previous or {}, self.store.day_figures(day))
            if not self.store.write_cumulative(day, figures, rolled_through):
                break  # another run moved on meanwhile: it goes on from there
            done.append(day)
            previous, rolled_through = figures, day
        return done

    # -------------------------------------------------------------- scheduled jobs

    def check_job_time(self, as_of: datetime) -> None:
        rules.check_job_time(as_of, self.clock.now())

    def expire_member(self, as_of: datetime, member_id: str) -> int:
        """Expire what is past due at `as_of` for one member and record its reminders; returns the points expired.

        Safe to repeat: what expired is gone from the lots and reminded lots are remembered, both in the
        same version-checked write as the `expire` ledger entry, which is never dated after the clock.
        """
        self.check_job_time(as_of)

        def attempt() -> int:
            member = self.store.get_member(member_id)
            recorded_at = min(as_of, self.clock.now())
            change = rules.expire_and_remind(member, self.program, as_of, recorded_at) if member else None
            if change is None:
                return 0
            self._commit(change, {member_id: member.version})
            return -sum(entry.points for entry in change.entries)

        return self.retry.run(attempt)

    def review_member(self, as_of: datetime, member_id: str) -> bool:
        """Run the tier review of `as_of`'s month for one member; returns whether the tier changed."""
        self.check_job_time(as_of)

        def attempt() -> bool:
            member = self.store.get_member(member_id)
            change = rules.review_tier(member, self.program, as_of) if member else None
            if change is None:
                return False
            self._commit(change, {member_id: member.version})
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
            change = rules.birthday_bonus(member, self.program, as_of, min(as_of, self.clock.now()))
            if change is None:
                return 0
            self._commit(change, {member_id: member.version})
            return change.entry.points

        return self.retry.run(attempt)


@dataclass
class CatalogAdmin:
    """The back office's catalog: create, replace, retire rewards and move their stock.

    Each call is one DynamoDB request (a refused stock change reads once more to say why). The functions
    that serve rewards see a change when their `Catalog` cache next loads (within its ttl, 60 s).
    """

    rewards: RewardStore
    program: Program

    @classmethod
    def from_settings(cls, settings: RewardAdminSettings) -> CatalogAdmin:
        return cls(RewardStore.from_settings(settings), load_program(settings.program_file))

    def create(self, reward: Reward) -> Reward:
        rules.check_reward(reward, self.program)
        self.rewards.create(reward)
        return reward

    def replace(self, reward: Reward) -> Reward:
        rules.check_reward(reward, self.program)
        return self.rewards.replace(reward)

    def retire(self, reward_id: str) -> Reward:
        return self.rewards.retire(reward_id)

    def change_stock(self, reward_id: str, delta: int) -> Reward:
        return self.rewards.change_stock(reward_id, delta)
