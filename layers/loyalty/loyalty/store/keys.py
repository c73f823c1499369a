"""Every storage key format, in one place: item keys, index keys and counter keys.

The domain names things (a member id, an entry's kind and id, a counter bucket); only this
module knows how they are spelled in DynamoDB.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from loyalty.domain.model import Entry, EntryRef
from loyalty.domain.stats import CUMULATIVE, DAY, GAPS, MONTH, ROLLUP, TOTAL, Bucket

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    from loyalty.domain.campaigns.engine import CounterKey

NEVER_REVIEWED = "0000-00"  # sorts before every month: a member never reviewed is due for review


def shard_of(member_id: str, shards: int) -> int:
    return int(hashlib.sha256(member_id.encode()).hexdigest()[:8], 16) % shards


# ------------------------------------------------------------------ members table


def member_pk(member_id: str) -> str:
    return f"M#{member_id}"


def member_id_of(pk: str) -> str:
    return pk.removeprefix("M#")


def email_marker(email_hash: str) -> str:
    return f"EMAIL#{email_hash}"


def sub_marker(sub: str) -> str:
    return f"SUB#{sub}"


def referral_marker(code: str) -> str:
    return f"REF#{code}"


def redemption_count(member_id: str, reward_id: str) -> str:
    """A member's count of one reward's redemptions (not "M#...": the stream reads that as a member)."""
    return f"RC#{member_id}#{reward_id}"


def redemption_pk(member_id: str, redemption_id: str) -> str:
    """A redemption by the id the API answered (not "M#...": the stream reads that as a member)."""
    return f"RD#{member_id}#{redemption_id}"


def voucher_pk(code: str) -> str:
    return f"V#{code}"


def due_index_shard(shard: int) -> str:
    return f"D#{shard}"


def due_shard(member_id: str, shards: int) -> str:
    return due_index_shard(shard_of(member_id, shards))


def due_key(moment: datetime) -> str:
    return _utc(moment, "seconds")


def review_index_shard(shard: int) -> str:
    return f"R#{shard}"


def review_shard(member_id: str, shards: int) -> str:
    return review_index_shard(shard_of(member_id, shards))


def birthday_index_shard(month_day: str, shard: int) -> str:
    """A by_birthday partition: one shard of the members whose birthday is `month_day` ("MM-DD")."""
    return f"{month_day}#{shard}"


def birthday_shard(member_id: str, month_day: str, shards: int) -> str:
    return birthday_index_shard(month_day, shard_of(member_id, shards))


# ------------------------------------------------------------------ ledger table


def entry_key(ref: EntryRef) -> str:
    """The ledger's sort key, which embeds the idempotency key: "earn#<transaction_id>", "redeem#<key>"..."""
    return f"{ref.kind}#{ref.id}"


def entry_ref(key: str) -> EntryRef:
    kind, _, ref_id = key.partition("#")
    return EntryRef(kind, ref_id)


def _utc(moment: datetime, timespec: str) -> str:
    # isoformat, not strftime: it writes years below 1000 with four digits, so keys sort as times
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def time_key(moment: datetime) -> str:
    """A `created_seq` bound: every entry recorded at or after `moment` sorts above it."""
    return _utc(moment, "microseconds")


CONSENT_PREFIX = "consent#"


def consent_key(at: datetime, member_version: int) -> str:
    """A consent change's sort key in the ledger table: by time, unique per member by the member's version."""
    return f"{CONSENT_PREFIX}{time_key(at)}#{member_version:012d}"


def created_seq(entry: Entry) -> str:
    """The activity index's sort key: the time the entry is listed at, then the member's sequence.

    That time is the time recorded, or (`ledger_at`) the later time of an entry applied before it, so the
    keys of a member's entries rise with their sequence: the feed lists them in the order they were applied.
    Entries keyed before `ledger_at` existed keep their keys; new ones never sort below them."""
    return f"{time_key(entry.ledger_at or entry.created_at)}#{entry.seq:012d}"


# ------------------------------------------------------------------ stats table


def counter_key(bucket: Bucket, shard: int) -> str:
    if bucket.kind == DAY:
        return f"D#{bucket.period}#{shard}"
    if bucket.kind == GAPS:  # a day's purchases by gap since the previous purchase, one chunk of gaps
        return f"G#{bucket.period}#{bucket.part}#{shard}"
    if bucket.kind == MONTH:
        return f"M#{bucket.period}#{shard}"
    if bucket.kind == TOTAL:
        return f"T#{shard}"
    if bucket.kind == CUMULATIVE:  # one item a day, written by the roll-up only: not sharded
        return f"C#{bucket.period}"
    if bucket.kind == ROLLUP:
        return "ROLLUP"
    raise ValueError(f"unknown counter bucket {bucket.kind!r}")


def sharded(bucket: Bucket) -> bool:
    """Whether a bucket is spread over the statistics shards (the roll-up's items are one each)."""
    return bucket.kind not in (CUMULATIVE, ROLLUP)


def campaign_stats_marker(member_id: str, entry_key_: str) -> str:
    """Written with a ledger entry's campaign statistics, once: a redelivered or replayed entry adds nothing again."""
    return f"CS#{member_id}#{entry_key_}"


def campaign_counter(key: CounterKey, member_id: str) -> str:
    """A campaign's limit counter: per member (that member's own) or in all, for a local day or the campaign.

    A counter in all is spread over shards, one item each (`CL#<campaign>#*#<period>#<shard>`). The shards of
    (campaign, per campaign, period campaign) also hold the campaign's `points_awarded` and `times_applied`.
    Counter items hold the numbers `points` and `times`.
    """
    scope = member_id if key.per == "member" else "*"
    shard = f"#{key.shard}" if key.shard is not None else ""
    return f"CL#{key.campaign_id}#{scope}#{key.period}{shard}"


PROGRAM_VERSIONS = "PROGRAM"  # the catalog table's partition of the program's versions


def program_version_key(version: int) -> str:
    """A version's sort key: zero-padded, so the partition sorts by number (the newest is the last)."""
    return f"{version:010d}"
