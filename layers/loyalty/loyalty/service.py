"""The use cases: load, decide with the domain rules, commit; a lost race is retried.

Each use case makes at most two DynamoDB round trips on its normal path (one read,
one transactional write); a replay is answered from the read alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from loyalty.domain import errors, rules, stats
from loyalty.domain.access import Caller
from loyalty.domain.model import Entry, Member, Reward, earn_key, member_id_for_sub, new_member_id, redeem_key, return_key
from loyalty.program import Program
from loyalty.settings import get_settings
from loyalty.store import repository as store

MAX_ATTEMPTS = 6
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """A ledger entry written (or found, when `replayed`) by a use case, with the member after it."""

    entry: Entry
    member: Member | None
    replayed: bool


def request_hash(payload: dict) -> str:
    """Fingerprint of what a request asked for, to tell a replay from a reused key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _with_retries(attempt: Callable[[], T]) -> T:
    """Run `attempt` again when it lost a race, a bounded number of times with jittered backoff."""
    for tries in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except store.LostRace:
            time.sleep(random.uniform(0, 0.005 * 2**tries))
    raise errors.Busy("the member is being changed by other requests; nothing was written, please retry")


def _replay(entry: Entry, fingerprint: str, what: str) -> Outcome:
    if entry.request_hash != fingerprint:
        raise errors.IdempotencyKeyReused(f"this {what} was already used with a different request")
    return Outcome(entry, None, replayed=True)


def email_hash(email: str) -> str:
    key = get_settings().email_hash_key.encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ enroll


def enroll(
    caller: Caller, program: Program, now: datetime, *, email: str, channel: str,
    name: str | None = None, phone: str | None = None, birthday: date | None = None,
    marketing_opt_in: bool = False, referral_code: str | None = None,
) -> Member:
    referrer_id = None
    if referral_code:
        referrer_id = store.member_id_for_referral_code(referral_code.upper())
        if referrer_id is None:
            raise errors.InvalidReferralCode(f"no member has the referral code {referral_code}")
    sub = caller.sub if caller.is_member else None  # a member token links the new member to itself
    member_id = member_id_for_sub(sub) if sub else new_member_id()
    for _ in range(MAX_ATTEMPTS):
        change = rules.enroll(
            member_id=member_id, email=email.strip().lower(), channel=channel, now=now, program=program,
            name=name, phone=phone, birthday=birthday, marketing_opt_in=marketing_opt_in, sub=sub,
            referred_by=referrer_id,
        )
        try:
            store.create_member(change, email_hash(email))
            return change.member
        except store.ReferralCodeTaken:
            continue  # a fresh random code on the next try
        except store.LostRace as race:
            raise errors.Busy("enrollment collided with another request; please retry") from race
    raise errors.Busy("could not allocate a referral code; please retry")


# ------------------------------------------------------------------ earn and return


def earn(
    caller: Caller, program: Program, now: datetime, member_id: str, *, transaction_id: str,
    amount_minor: int, currency: str, payload: dict, occurred_at: datetime | None = None,
    store_id: str | None = None, channel: str | None = None,
) -> Outcome:
    key, fingerprint = earn_key(transaction_id), request_hash(payload)

    def attempt() -> Outcome:
        member, entries = store.get_member_and_entries(member_id, [key])
        member = caller.ensure_may_access(member, member_id)
        if key in entries:
            return _replay(entries[key], fingerprint, "transaction_id")
        referrer = store.get_member(member.referred_by) if rules.referral_due(member) and member.referred_by else None
        change = rules.earn(
            member, program, key=key, transaction_id=transaction_id, amount_minor=amount_minor,
            currency=currency, now=now, request_hash=fingerprint, occurred_at=occurred_at,
            store_id=store_id, channel=channel, referrer=referrer,
        )
        versions = {member.member_id: member.version}
        if referrer:
            versions[referrer.member_id] = referrer.version
        store.commit(change, versions)
        return Outcome(change.entry, change.member, replayed=False)

    return _with_retries(attempt)


def return_purchase(
    caller: Caller, now: datetime, member_id: str, *, transaction_id: str, return_id: str,
    amount_minor: int, payload: dict,
) -> Outcome:
    key, purchase_key, fingerprint = return_key(return_id), earn_key(transaction_id), request_hash(payload)

    def attempt() -> Outcome:
        member, entries = store.get_member_and_entries(member_id, [key, purchase_key])
        member = caller.ensure_may_access(member, member_id)
        if key in entries:
            return _replay(entries[key], fingerprint, "return_id")
        purchase = entries.get(purchase_key)
        if purchase is None:
            raise errors.PurchaseNotFound(f"no purchase {transaction_id} for member {member_id}")
        change, updated_purchase = rules.return_purchase(
            member, purchase, key=key, return_id=return_id, amount_minor=amount_minor,
            now=now, request_hash=fingerprint,
        )
        store.commit(change, {member.member_id: member.version}, purchase_update=(updated_purchase, purchase.refunded_minor or 0))
        return Outcome(change.entry, change.member, replayed=False)

    return _with_retries(attempt)


# ------------------------------------------------------------------ rewards and redemptions

_catalog_cache: tuple[float, list[Reward]] | None = None


def catalog(now_monotonic: Callable[[], float] = time.monotonic) -> list[Reward]:
    """The rewards catalog, cached in the warm function for a short while."""
    global _catalog_cache
    ttl = get_settings().catalog_cache_seconds
    if _catalog_cache is None or now_monotonic() - _catalog_cache[0] > ttl:
        _catalog_cache = (now_monotonic(), store.rewards())
    return _catalog_cache[1]


def caller_tier(caller: Caller, program: Program) -> str | None:
    """The tier a member token's rewards are offered for; None for staff, who see every reward."""
    if not caller.is_member:
        return None
    member = store.get_member(caller.target("me"))
    return member.tier if member else program.base_tier.name


def find_reward(reward_id: str) -> Reward:
    for reward in catalog():
        if reward.reward_id == reward_id and reward.active:
            return reward
    raise errors.RewardNotFound(f"no reward {reward_id}")


def redeem(
    caller: Caller, program: Program, now: datetime, member_id: str, *, idempotency_key: str,
    payload: dict, reward_id: str | None = None, points: int | None = None,
) -> Outcome:
    key, fingerprint = redeem_key(idempotency_key), request_hash(payload)

    def attempt() -> Outcome:
        member, entries = store.get_member_and_entries(member_id, [key])
        member = caller.ensure_may_access(member, member_id)
        if key in entries:
            return _replay(entries[key], fingerprint, "Idempotency-Key")
        reward = find_reward(reward_id) if reward_id else None
        change = rules.redeem(member, program, key=key, now=now, request_hash=fingerprint, reward=reward, points=points)
        stock_reward = reward if reward and reward.stock is not None else None
        store.commit(change, {member.member_id: member.version}, stock_reward=stock_reward)
        return Outcome(change.entry, change.member, replayed=False)

    return _with_retries(attempt)


# ------------------------------------------------------------------ reads


def member(caller: Caller, member_id: str) -> Member:
    return caller.ensure_may_access(store.get_member(member_id), member_id)


def activity(
    caller: Caller, program: Program, member_id: str, limit: int, cursor: str | None,
    start: date | None = None, end: date | None = None,
) -> tuple[list[Entry], str | None]:
    """A page of the ledger, optionally of the days [start, end] in the program's time zone.

    A member token naming an id reads the member first to check ownership.
    """
    if start and end and end < start:
        raise errors.InvalidRange("`to` is before `from`")
    if caller.is_member and member_id != (member_id_for_sub(caller.sub) if caller.sub else None):
        member(caller, member_id)
    since = stats.day_start(start, program.time_zone) if start else None
    until = stats.day_start(end + timedelta(days=1), program.time_zone) if end else None
    entries, next_cursor = store.activity(member_id, limit, cursor, since, until)
    if not entries and cursor is None:
        member(caller, member_id)  # an empty first page: tell an unknown member apart
    return entries, next_cursor


# ------------------------------------------------------------------ reports

MAX_REPORT_DAYS = 366


def program_report(program: Program, now: datetime, start: date, end: date) -> stats.ProgramReport:
    """KPIs for [start, end] (days in the program's time zone) from the counters: no member or ledger read."""
    if end < start:
        raise errors.InvalidRange("`to` is before `from`")
    if (end - start).days + 1 > MAX_REPORT_DAYS:
        raise errors.InvalidRange(f"a report covers at most {MAX_REPORT_DAYS} days")
    shards = get_settings().stats_shards
    report_plan = stats.plan(start, end, stats.local_day(now, program.time_zone))
    items = store.counters(report_plan.keys(shards))
    return stats.build_report(report_plan, items, shards, [tier.name for tier in program.tiers])


# ------------------------------------------------------------------ scheduled jobs


def expire_member(program: Program, now: datetime, member_id: str) -> int:
    """Expire what is past due for one member and record its reminders; returns the points expired.

    Safe to repeat: what expired is gone from the lots and reminded lots are remembered, both in the
    same version-checked write as the `expire` ledger entry.
    """

    def attempt() -> int:
        member = store.get_member(member_id)
        change = rules.expire_and_remind(member, program, now) if member else None
        if change is None:
            return 0
        store.commit(change, {member_id: member.version})
        return -sum(entry.points for entry in change.entries)

    return _with_retries(attempt)


def review_member(program: Program, now: datetime, member_id: str) -> bool:
    """Run this month's tier review for one member; returns whether the tier changed."""

    def attempt() -> bool:
        member = store.get_member(member_id)
        change = rules.review_tier(member, program, now) if member else None
        if change is None:
            return False
        store.commit(change, {member_id: member.version})
        return bool(change.tier_moves)

    return _with_retries(attempt)
