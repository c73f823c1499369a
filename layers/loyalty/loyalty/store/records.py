"""Explicit conversion between stored records (pynamodb) and domain values."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

from loyalty.domain.model import Entry, Member, Reward
from loyalty.domain.rules import next_due
from loyalty.domain.stats import shard_of
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.store.models import EntryModel, MemberModel, RewardModel

_MEMBER_PLAIN = [f.name for f in fields(Member) if f.name not in ("birthday", "lots", "qualifying", "reminded_lots")]
NEVER_REVIEWED = "0000-00"
_ENTRY_PLAIN = [f.name for f in fields(Entry) if f.name not in ("key", "lots_consumed")]
_MEMBER_COUNTERS = ("balance", "purchases", "points_earned", "points_redeemed", "points_expired", "points_returned", "version")


def member_pk(member_id: str) -> str:
    return f"M#{member_id}"


def _plain_map(attribute) -> dict[str, int]:
    return {key: int(value) for key, value in attribute.as_dict().items()} if attribute is not None else {}


def member_to_record(member: Member) -> MemberModel:
    record = MemberModel(member_pk(member.member_id), **{name: getattr(member, name) for name in _MEMBER_PLAIN})
    record.birthday = member.birthday.isoformat() if member.birthday else None
    record.lots = dict(member.lots)
    record.qualifying = dict(member.qualifying)
    record.reminded_lots = list(member.reminded_lots)
    _set_index_keys(record, member)
    return record


def _set_index_keys(record: MemberModel, member: Member) -> None:
    """Sparse index keys: a member is in by_due while it has lots, in by_review while above the base tier."""
    program, shards = get_program(), get_settings().job_shards
    due = next_due(member, program)
    if due is not None:
        record.due_shard = f"D#{shard_of(member.member_id, shards)}"
        record.next_due = due.strftime("%Y-%m-%dT%H:%M:%SZ")
    if member.tier != program.base_tier.name:
        record.review_shard = f"R#{shard_of(member.member_id, shards)}"
        record.review_month = member.tier_reviewed or NEVER_REVIEWED


def member_from_record(record: MemberModel) -> Member:
    member = Member(**{name: getattr(record, name) for name in _MEMBER_PLAIN})
    member.birthday = date.fromisoformat(record.birthday) if record.birthday else None
    member.lots = _plain_map(record.lots)
    member.qualifying = _plain_map(record.qualifying)
    member.reminded_lots = list(record.reminded_lots or [])
    for counter in _MEMBER_COUNTERS:
        setattr(member, counter, int(getattr(member, counter)))
    return member


def entry_to_record(entry: Entry) -> EntryModel:
    values = {name: getattr(entry, name) for name in _ENTRY_PLAIN if getattr(entry, name) is not None}
    record = EntryModel(entry.member_id, entry.key, created_seq=entry.created_seq, **values)
    if entry.lots_consumed is not None:
        record.lots_consumed = dict(entry.lots_consumed)
    return record


def entry_from_record(record: EntryModel) -> Entry:
    entry = Entry(key=record.entry_key, **{name: getattr(record, name) for name in _ENTRY_PLAIN})
    entry.lots_consumed = _plain_map(record.lots_consumed) if record.lots_consumed is not None else None
    return entry


def reward_to_record(reward: Reward) -> RewardModel:
    return RewardModel(
        "REWARD", reward.reward_id, name=reward.name, description=reward.description, kind=reward.kind,
        points=reward.points, value_minor=reward.value_minor, min_tier=reward.min_tier,
        active=reward.active, stock=reward.stock,
    )


def reward_from_record(record: RewardModel) -> Reward:
    return Reward(
        reward_id=record.sk, name=record.name, description=record.description, kind=record.kind,
        points=int(record.points), value_minor=int(record.value_minor), min_tier=record.min_tier,
        active=record.active, stock=None if record.stock is None else int(record.stock),
    )
