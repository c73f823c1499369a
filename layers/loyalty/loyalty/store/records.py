"""Explicit conversion between stored records (pynamodb) and domain values.

Records are built with the classes of a `Tables` binding; the index keys a member item carries
are spelled here from the domain's `JobSchedule` (store.keys), not decided here.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date, timezone

from loyalty.domain.birthday import month_day
from loyalty.domain.model import PENDING_KEY_FORMAT, BasketItem, Entry, LimitCut, Member, PointsLine, Redemption, Reward, Voucher, pending_time
from loyalty.domain.ledger import JobSchedule
from loyalty.store import keys
from loyalty.store.models import EntryModel, MemberModel, RedemptionModel, RewardModel, VoucherModel

_MEMBER_MAPS = ("birthday", "lots", "qualifying", "reminded_lots", "pending", "pending_qualifying", "days", "months",
                "categories", "attributes", "activated")
_MEMBER_PLAIN = [f.name for f in fields(Member) if f.name not in _MEMBER_MAPS]
_ENTRY_MAPS = ("ref", "lots_consumed", "pending_consumed", "items", "breakdown", "limited")
_ENTRY_PLAIN = [f.name for f in fields(Entry) if f.name not in _ENTRY_MAPS]
_MEMBER_COUNTERS = ("balance", "purchases", "points_earned", "points_redeemed", "points_expired", "points_returned", "version",
                    "spend_minor", "redemptions")


def _plain_map(attribute) -> dict[str, int]:
    return {key: int(value) for key, value in attribute.as_dict().items()} if attribute is not None else {}


def _buckets(attribute) -> dict[str, list[int]]:
    """Fact buckets as stored: a bucket of one purchase holds its spend alone (most days: 4 bytes, not 9)."""
    values = attribute.as_dict() if attribute is not None else {}
    return {key: [int(part) for part in value] if isinstance(value, list) else [1, int(value)]
            for key, value in values.items()}


def _stored_buckets(buckets: dict[str, list[int]]) -> dict[str, object]:
    return {key: value[1] if value[0] == 1 else list(value) for key, value in buckets.items()}


def _attributes(attribute) -> dict[str, str | int | bool]:
    values = attribute.as_dict() if attribute is not None else {}
    return {key: value if isinstance(value, (str, bool)) else int(value) for key, value in values.items()}


def member_to_record(member: Member, model: type[MemberModel], schedule: JobSchedule, job_shards: int) -> MemberModel:
    record = model(keys.member_pk(member.member_id), **{name: getattr(member, name) for name in _MEMBER_PLAIN})
    record.birthday = member.birthday.isoformat() if member.birthday else None
    record.email = member.email or None  # an erased member has none
    record.lots = dict(member.lots)
    record.qualifying = dict(member.qualifying)
    record.pending = dict(member.pending)
    record.pending_qualifying = dict(member.pending_qualifying)
    record.reminded_lots = list(member.reminded_lots)
    record.days, record.months = _stored_buckets(member.days), _stored_buckets(member.months)
    record.categories = dict(member.categories)
    record.attributes = dict(member.attributes)
    record.activated = {campaign_id: at.astimezone(timezone.utc).strftime(PENDING_KEY_FORMAT)
                        for campaign_id, at in member.activated.items()}
    # Sparse indexes: a member is in by_due while something is due for it, in by_review while under review.
    if schedule.next_due is not None:
        record.due_shard = keys.due_shard(member.member_id, job_shards)
        record.next_due = keys.due_key(schedule.next_due)
    if schedule.under_review:
        record.review_shard = keys.review_shard(member.member_id, job_shards)
        record.review_month = schedule.last_review or keys.NEVER_REVIEWED
    if member.birthday is not None:  # by_birthday: kept right by every write of the member (enroll, profile changes)
        record.birthday_shard = keys.birthday_shard(member.member_id, month_day(member.birthday), job_shards)
    return record


def member_from_record(record: MemberModel) -> Member:
    member = Member(**{name: getattr(record, name) for name in _MEMBER_PLAIN})
    member.birthday = date.fromisoformat(record.birthday) if record.birthday else None
    member.email = record.email or ""
    member.lots = _plain_map(record.lots)
    member.qualifying = _plain_map(record.qualifying)
    member.pending = _plain_map(record.pending)
    member.pending_qualifying = _plain_map(record.pending_qualifying)
    member.reminded_lots = list(record.reminded_lots or [])
    member.days, member.months = _buckets(record.days), _buckets(record.months)
    member.categories, member.attributes = _plain_map(record.categories), _attributes(record.attributes)
    member.activated = {campaign_id: pending_time(at) for campaign_id, at in
                        (record.activated.as_dict() if record.activated is not None else {}).items()}
    for counter in _MEMBER_COUNTERS:
        setattr(member, counter, int(getattr(member, counter)))
    return member


def entry_to_record(entry: Entry, model: type[EntryModel]) -> EntryModel:
    values = {name: getattr(entry, name) for name in _ENTRY_PLAIN if getattr(entry, name) is not None}
    record = model(entry.member_id, keys.entry_key(entry.ref), created_seq=keys.created_seq(entry), **values)
    if entry.lots_consumed is not None:
        record.lots_consumed = dict(entry.lots_consumed)
    if entry.pending_consumed is not None:
        record.pending_consumed = dict(entry.pending_consumed)
    if entry.items is not None:
        record.items = [
            {"sku": item.sku, "amount_minor": item.amount_minor, "quantity": item.quantity, "category": item.category}
            for item in entry.items
        ]
    if entry.breakdown is not None:  # a line's version is stored only when it is not the entry's (a tier added since)
        record.breakdown = [{"source": line.source, "points": line.points, "campaign_id": line.campaign_id,
                             **({"program_version": line.program_version}
                                if line.program_version != entry.program_version else {})}
                            for line in entry.breakdown]
    if entry.limited is not None:
        record.limited = [{"campaign_id": cut.campaign_id, "wanted": cut.wanted, "given": cut.given} for cut in entry.limited]
    return record


def entry_from_record(record: EntryModel) -> Entry:
    entry = Entry(ref=keys.entry_ref(record.entry_key), **{name: getattr(record, name) for name in _ENTRY_PLAIN})
    for counter in ("seq", "points", "balance_after"):
        setattr(entry, counter, int(getattr(entry, counter)))
    if entry.points_forfeited is not None:
        entry.points_forfeited = int(entry.points_forfeited)
    entry.lots_consumed = _plain_map(record.lots_consumed) if record.lots_consumed is not None else None
    entry.pending_consumed = _plain_map(record.pending_consumed) if record.pending_consumed is not None else None
    if record.items is not None:
        entry.items = tuple(
            BasketItem(sku=item.sku, amount_minor=int(item.amount_minor), quantity=int(item.quantity), category=item.category)
            for item in record.items
        )
    if entry.base_points is not None:
        entry.base_points = int(entry.base_points)
    if entry.program_version is not None:
        entry.program_version = int(entry.program_version)
    if record.breakdown is not None:
        entry.breakdown = tuple(
            PointsLine(line.source, int(line.points), line.campaign_id,
                       int(line.program_version) if line.program_version is not None else entry.program_version)
            for line in record.breakdown)
    if record.limited is not None:
        entry.limited = tuple(LimitCut(cut.campaign_id, int(cut.wanted), int(cut.given)) for cut in record.limited)
    return entry


def reward_to_record(reward: Reward, model: type[RewardModel]) -> RewardModel:
    return model(
        "REWARD", reward.reward_id, name=reward.name, description=reward.description, kind=reward.kind,
        points=reward.points, value_minor=reward.value_minor, min_tier=reward.min_tier,
        active=reward.active, stock=reward.stock, starts_at=reward.starts_at, ends_at=reward.ends_at,
        per_member_limit=reward.per_member_limit,
    )


def reward_from_record(record: RewardModel) -> Reward:
    return Reward(
        reward_id=record.sk, name=record.name, description=record.description, kind=record.kind,
        points=int(record.points), value_minor=int(record.value_minor), min_tier=record.min_tier,
        active=record.active, stock=None if record.stock is None else int(record.stock),
        starts_at=record.starts_at, ends_at=record.ends_at,
        per_member_limit=None if record.per_member_limit is None else int(record.per_member_limit),
    )


_VOUCHER_FIELDS = [f.name for f in fields(Voucher)]


def voucher_to_record(voucher: Voucher, model: type[VoucherModel]) -> VoucherModel:
    return model(keys.voucher_pk(voucher.voucher_code), **{name: getattr(voucher, name) for name in _VOUCHER_FIELDS})


def voucher_from_record(record: VoucherModel) -> Voucher:
    voucher = Voucher(**{name: getattr(record, name) for name in _VOUCHER_FIELDS})
    return replace(voucher, value_minor=int(voucher.value_minor))


_REDEMPTION_FIELDS = [f.name for f in fields(Redemption)]


def redemption_to_record(redemption: Redemption, model: type[RedemptionModel]) -> RedemptionModel:
    values = {name: getattr(redemption, name) for name in _REDEMPTION_FIELDS}
    return model(keys.redemption_pk(redemption.member_id, redemption.redemption_id), **values)


def redemption_from_record(record: RedemptionModel) -> Redemption:
    redemption = Redemption(**{name: getattr(record, name) for name in _REDEMPTION_FIELDS})
    return replace(redemption, points=int(redemption.points), lots_consumed=_plain_map(record.lots_consumed))
