"""Stored records (pynamodb). Conversion to and from domain values is explicit, in store.records.

The record classes name no table: `bind_tables` derives classes bound to one deployment's table
names (from the function's settings) when the store is composed, so nothing is fixed at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from loyalty.settings import DYNAMODB_CONNECT_TIMEOUT_SECONDS, DYNAMODB_MAX_ATTEMPTS, DYNAMODB_READ_TIMEOUT_SECONDS

# Each bound table's client: the SDK retry policy of loyalty.settings (pynamodb counts retries, not attempts).
CLIENT_OPTIONS = {"connect_timeout_seconds": DYNAMODB_CONNECT_TIMEOUT_SECONDS,
                  "read_timeout_seconds": DYNAMODB_READ_TIMEOUT_SECONDS, "max_retry_attempts": DYNAMODB_MAX_ATTEMPTS - 1}


class ByDueIndex(GlobalSecondaryIndex):
    """Members with lots, by when the expiry job next has something to do for them (sparse, sharded)."""

    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    next_due = UnicodeAttribute(range_key=True)


class ByReviewIndex(GlobalSecondaryIndex):
    """Members above the base tier, by the month of their last review (sparse, sharded)."""

    class Meta:
        index_name = "by_review"
        projection = KeysOnlyProjection()

    review_shard = UnicodeAttribute(hash_key=True)
    review_month = UnicodeAttribute(range_key=True)


class ByBirthdayIndex(GlobalSecondaryIndex):
    """Members with a birthday, by "<MM-DD>#<shard>": the day's birthdays are one Query per shard (sparse)."""

    class Meta:
        index_name = "by_birthday"
        projection = KeysOnlyProjection()

    birthday_shard = UnicodeAttribute(hash_key=True)


class MemberModel(Model):
    """A member: profile, balance, lots by expiry month, qualifying points by month. pk "M#<member_id>"."""

    pk = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute()
    email = UnicodeAttribute(null=True)  # absent once erased
    enrolled_at = UTCDateTimeAttribute()
    channel = UnicodeAttribute()
    tier = UnicodeAttribute()
    referral_code = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)  # YYYY-MM-DD
    marketing_opt_in = BooleanAttribute(default=False)
    locale = UnicodeAttribute(null=True)  # BCP 47; absent: the program's
    sub = UnicodeAttribute(null=True)
    referred_by = UnicodeAttribute(null=True)
    referral_bonus_paid = BooleanAttribute(default=False)
    balance = NumberAttribute(default=0)
    lots = MapAttribute(default=dict)
    qualifying = MapAttribute(default=dict)
    pending = MapAttribute(default=dict)  # available_at (UTC, to the second) -> purchase points not spendable yet
    pending_qualifying = MapAttribute(default=dict)
    released_through = UnicodeAttribute(null=True)  # tells the event publisher a release from a return
    purchases = NumberAttribute(default=0)
    points_earned = NumberAttribute(default=0)
    points_redeemed = NumberAttribute(default=0)
    points_expired = NumberAttribute(default=0)
    points_returned = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    last_purchase_day = UnicodeAttribute(null=True)
    previous_purchase_day = UnicodeAttribute(null=True)
    reminded_lots = ListAttribute(of=UnicodeAttribute, default=list)
    tier_reviewed = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")  # items written before blocking existed read as active
    blocked_reason = UnicodeAttribute(null=True)
    status_changed_at = UTCDateTimeAttribute(null=True)
    erased_at = UTCDateTimeAttribute(null=True)
    profile_updated_at = UTCDateTimeAttribute(null=True)
    ledger_at = UTCDateTimeAttribute(null=True)  # the latest entry's place in time (absent on older items)
    # facts (domain/facts.py), bounded: absent on items written before them
    spend_minor = NumberAttribute(default=0)
    last_purchase_at = UTCDateTimeAttribute(null=True)
    redemptions = NumberAttribute(default=0)
    last_redemption_at = UTCDateTimeAttribute(null=True)
    days = MapAttribute(default=dict)  # day number -> [purchases, spend_minor]
    months = MapAttribute(default=dict)  # "YYYY-MM" -> [purchases, spend_minor]
    categories = MapAttribute(default=dict)  # category -> last day number
    attributes = MapAttribute(default=dict)
    activated = MapAttribute(default=dict)  # campaign id -> when the member activated the offer (RFC 3339)
    # Index keys derived from the state above (store.records), absent when the member has nothing due.
    due_shard = UnicodeAttribute(null=True)
    next_due = UnicodeAttribute(null=True)
    by_due = ByDueIndex()
    review_shard = UnicodeAttribute(null=True)
    review_month = UnicodeAttribute(null=True)
    by_review = ByReviewIndex()
    birthday_shard = UnicodeAttribute(null=True)
    by_birthday = ByBirthdayIndex()


class MarkerModel(Model):
    """A uniqueness marker in the members table: pk "EMAIL#<hmac>", "SUB#<sub>" or "REF#<code>"."""

    pk = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute()


class BasketItemAttribute(MapAttribute):
    sku = UnicodeAttribute()
    amount_minor = NumberAttribute()
    quantity = NumberAttribute()
    category = UnicodeAttribute(null=True)


class PointsLineAttribute(MapAttribute):
    source = UnicodeAttribute()
    points = NumberAttribute()
    campaign_id = UnicodeAttribute(null=True)
    program_version = NumberAttribute(null=True)  # only when not the entry's (its tier line, for a tier added since)


class LimitCutAttribute(MapAttribute):
    campaign_id = UnicodeAttribute()
    wanted = NumberAttribute()
    given = NumberAttribute()


class ByTimeIndex(LocalSecondaryIndex):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    member_id = UnicodeAttribute(hash_key=True)
    created_seq = UnicodeAttribute(range_key=True)


class EntryModel(Model):
    """A ledger entry. The sort key embeds the idempotency key ("earn#<transaction_id>", ...)."""

    member_id = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)
    seq = NumberAttribute()
    created_seq = UnicodeAttribute()  # "<listed at>#<seq>": the activity feed's order, filterable by date
    ledger_at = UTCDateTimeAttribute(null=True)  # set when listed later than created_at (keys.created_seq)
    by_time = ByTimeIndex()
    entry_id = UnicodeAttribute()
    type = UnicodeAttribute()
    points = NumberAttribute()
    balance_after = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    request_hash = UnicodeAttribute(null=True)
    transaction_id = UnicodeAttribute(null=True)
    reward_id = UnicodeAttribute(null=True)
    amount_minor = NumberAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    occurred_at = UTCDateTimeAttribute(null=True)
    qualifying_points = NumberAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    available_at = UTCDateTimeAttribute(null=True)
    tier_after = UnicodeAttribute(null=True)
    tier_changed = BooleanAttribute(null=True)
    refunded_minor = NumberAttribute(null=True)
    points_reversed = NumberAttribute(null=True)
    qualifying_reversed = NumberAttribute(null=True)
    return_id = UnicodeAttribute(null=True)
    points_unrecovered = NumberAttribute(null=True)
    voucher_code = UnicodeAttribute(null=True)
    value_minor = NumberAttribute(null=True)
    lots_consumed = MapAttribute(null=True)
    pending_consumed = MapAttribute(null=True)
    redemption_id = UnicodeAttribute(null=True)  # cancel
    points_forfeited = NumberAttribute(null=True)  # cancel
    bonus = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)  # adjust
    actor = UnicodeAttribute(null=True)  # adjust
    previous_purchase_day = UnicodeAttribute(null=True)
    previous_purchase_day_2 = UnicodeAttribute(null=True)
    items = ListAttribute(of=BasketItemAttribute, null=True)  # earn: the basket
    base_points = NumberAttribute(null=True)  # earn: its explanation
    program_version = NumberAttribute(null=True)  # earn: the program version it earned under
    breakdown = ListAttribute(of=PointsLineAttribute, null=True)
    limited = ListAttribute(of=LimitCutAttribute, null=True)
    statistics_later = UnicodeAttribute(null=True)


class ConsentModel(Model):
    """A change of a member's marketing consent, in the ledger table beside the member's entries.

    Sort key "consent#<time>#<member version>"; it carries no `created_seq`, so the activity index never lists it.
    Kept for the member's export: who (`by`: "member" or a staff token's sub/client_id) changed it, and when.
    """

    member_id = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)
    marketing_opt_in = BooleanAttribute()
    at = UTCDateTimeAttribute()
    by = UnicodeAttribute()


class RewardModel(Model):
    """A catalog reward; all under pk "REWARD" so the catalog is one Query."""

    pk = UnicodeAttribute(hash_key=True, default="REWARD")
    sk = UnicodeAttribute(range_key=True)  # the reward id
    name = UnicodeAttribute()
    description = UnicodeAttribute()
    kind = UnicodeAttribute()
    points = NumberAttribute()
    value_minor = NumberAttribute()
    min_tier = UnicodeAttribute(null=True)
    active = BooleanAttribute(default=True)
    stock = NumberAttribute(null=True)
    starts_at = UTCDateTimeAttribute(null=True)
    ends_at = UTCDateTimeAttribute(null=True)
    per_member_limit = NumberAttribute(null=True)


class CampaignModel(Model):
    """A campaign in the catalog table; all under pk "CAMPAIGN" so the campaigns are one Query.

    `document` is the campaign's JSON document (what `domain.campaigns.parse_campaign` reads), frozen once active.
    """

    pk = UnicodeAttribute(hash_key=True, default="CAMPAIGN")
    sk = UnicodeAttribute(range_key=True)  # the campaign id
    document = UnicodeAttribute()
    status = UnicodeAttribute()  # draft | active | ended
    created_at = UTCDateTimeAttribute()
    activated_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    version = NumberAttribute(default=0)
    ends_at = UTCDateTimeAttribute(null=True)  # the document's, so conditions and filters can compare it with now


class ProgramVersionModel(Model):
    """A published program version in the catalog table; all under pk "PROGRAM" (sorted by number) so the history
    is one Query. `document` is the program's JSON document; a version is written once and never changes."""

    pk = UnicodeAttribute(hash_key=True, default="PROGRAM")
    sk = UnicodeAttribute(range_key=True)  # keys.program_version_key(version): zero-padded, so sorted by number
    version = NumberAttribute()
    document = UnicodeAttribute()
    effective_from = UTCDateTimeAttribute()
    published_at = UTCDateTimeAttribute()
    published_by = UnicodeAttribute()
    note = UnicodeAttribute(null=True)


class RedemptionCountModel(Model):
    """How many times a member redeemed a reward, in the members table: pk "RC#<member_id>#<reward_id>"."""

    pk = UnicodeAttribute(hash_key=True)
    count = NumberAttribute(default=0)


class RedemptionModel(Model):
    """A redemption under its redemption_id, in the members table: pk "RD#<member_id>#<redemption_id>".

    Written with the redemption, so a cancel finds it (and what to give back) in its first read.
    """

    pk = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute()
    redemption_id = UnicodeAttribute()
    idempotency_key = UnicodeAttribute()
    points = NumberAttribute()
    lots_consumed = MapAttribute(default=dict)
    reward_id = UnicodeAttribute(null=True)
    voucher_code = UnicodeAttribute()
    stock_taken = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()


class VoucherModel(Model):
    """A redemption's voucher, in the members table: pk "V#<voucher_code>"."""

    pk = UnicodeAttribute(hash_key=True)
    voucher_code = UnicodeAttribute()
    member_id = UnicodeAttribute()
    redemption_id = UnicodeAttribute()
    reward_id = UnicodeAttribute(null=True)
    value_minor = NumberAttribute()
    status = UnicodeAttribute()
    issued_at = UTCDateTimeAttribute()
    used_at = UTCDateTimeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)


class CampaignCounterModel(Model):
    """A campaign's limit counter in the statistics table (pk: store.keys.campaign_counter): points and times given.

    `expires` (epoch seconds) is the table's TTL attribute: a per-day counter is deleted some days after its day.
    """

    pk = UnicodeAttribute(hash_key=True)
    points = NumberAttribute(default=0)
    times = NumberAttribute(default=0)
    expires = NumberAttribute(null=True)


class CounterModel(Model):
    """A counter item of the statistics table (see loyalty.domain.stats); counters are dynamic attributes."""

    pk = UnicodeAttribute(hash_key=True)


@dataclass(frozen=True)
class Tables:
    """The record classes bound to one deployment's tables."""

    members: type[MemberModel]
    markers: type[MarkerModel]
    entries: type[EntryModel]
    counters: type[CounterModel]
    rewards: type[RewardModel] | None  # only for the functions given the catalog table
    redemption_counts: type[RedemptionCountModel] | None = None  # in the members table
    vouchers: type[VoucherModel] | None = None  # in the members table
    consents: type[ConsentModel] | None = None  # in the ledger table
    redemptions: type[RedemptionModel] | None = None  # in the members table
    campaign_counters: type[CampaignCounterModel] | None = None  # in the stats table

    def models(self) -> list[type[Model]]:
        """Every bound record class."""
        return [model for model in vars(self).values() if model is not None]


def _bind(model: type[Model], table_name: str, region: str | None, host: str | None = None) -> type:
    options = {"table_name": table_name, **({"region": region} if region else {}), **({"host": host} if host else {}),
               **CLIENT_OPTIONS}
    meta = type("Meta", (), options)
    return type(model.__name__, (model,), {"Meta": meta, "__module__": __name__})


def bind_tables(
    *, members: str, ledger: str, stats: str, catalog: str | None = None, region: str | None = None,
    host: str | None = None,
) -> Tables:
    """Each call derives fresh classes (with their own connections), so two stores never share a table binding."""
    return Tables(
        members=_bind(MemberModel, members, region, host), markers=_bind(MarkerModel, members, region, host),
        entries=_bind(EntryModel, ledger, region, host), counters=_bind(CounterModel, stats, region, host),
        rewards=_bind(RewardModel, catalog, region, host) if catalog else None,
        redemption_counts=_bind(RedemptionCountModel, members, region, host),
        vouchers=_bind(VoucherModel, members, region, host),
        consents=_bind(ConsentModel, ledger, region, host),
        redemptions=_bind(RedemptionModel, members, region, host),
        campaign_counters=_bind(CampaignCounterModel, stats, region, host),
    )


def bind_members(members: str, region: str | None = None, host: str | None = None) -> type[MemberModel]:
    """The member records alone: what the jobs' dispatchers query."""
    return _bind(MemberModel, members, region, host)


def bind_rewards(catalog: str, region: str | None = None, host: str | None = None) -> type[RewardModel]:
    return _bind(RewardModel, catalog, region, host)


def bind_campaigns(catalog: str, region: str | None = None, host: str | None = None) -> type[CampaignModel]:
    return _bind(CampaignModel, catalog, region, host)


def bind_program_versions(catalog: str, region: str | None = None, host: str | None = None) -> type[ProgramVersionModel]:
    return _bind(ProgramVersionModel, catalog, region, host)


def bind_campaign_counters(stats: str, region: str | None = None, host: str | None = None) -> type[CampaignCounterModel]:
    return _bind(CampaignCounterModel, stats, region, host)
