"""Stored records (pynamodb). Conversion to and from domain values is explicit, in store.records."""

from __future__ import annotations

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

from loyalty.settings import get_settings

_settings = get_settings()


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


class MemberModel(Model):
    """A member: profile, balance, lots by expiry month, qualifying points by month. pk "M#<member_id>"."""

    class Meta:
        table_name = _settings.members_table
        region = _settings.aws_region

    pk = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute()
    email = UnicodeAttribute()
    enrolled_at = UTCDateTimeAttribute()
    channel = UnicodeAttribute()
    tier = UnicodeAttribute()
    referral_code = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)  # YYYY-MM-DD
    marketing_opt_in = BooleanAttribute(default=False)
    sub = UnicodeAttribute(null=True)
    referred_by = UnicodeAttribute(null=True)
    referral_bonus_paid = BooleanAttribute(default=False)
    balance = NumberAttribute(default=0)
    lots = MapAttribute(default=dict)
    qualifying = MapAttribute(default=dict)
    purchases = NumberAttribute(default=0)
    points_earned = NumberAttribute(default=0)
    points_redeemed = NumberAttribute(default=0)
    points_expired = NumberAttribute(default=0)
    points_returned = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    last_entry_at = UTCDateTimeAttribute(null=True)
    last_purchase_day = UnicodeAttribute(null=True)
    previous_purchase_day = UnicodeAttribute(null=True)
    reminded_lots = ListAttribute(of=UnicodeAttribute, default=list)
    tier_reviewed = UnicodeAttribute(null=True)
    # Index keys derived from the state above (store.records), absent when the member has nothing due.
    due_shard = UnicodeAttribute(null=True)
    next_due = UnicodeAttribute(null=True)
    by_due = ByDueIndex()
    review_shard = UnicodeAttribute(null=True)
    review_month = UnicodeAttribute(null=True)
    by_review = ByReviewIndex()


class MarkerModel(Model):
    """A uniqueness marker in the members table: pk "EMAIL#<hmac>", "SUB#<sub>" or "REF#<code>"."""

    class Meta:
        table_name = _settings.members_table
        region = _settings.aws_region

    pk = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute()


class ByTimeIndex(LocalSecondaryIndex):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    member_id = UnicodeAttribute(hash_key=True)
    created_seq = UnicodeAttribute(range_key=True)


class EntryModel(Model):
    """A ledger entry. The sort key embeds the idempotency key ("earn#<transaction_id>", ...)."""

    class Meta:
        table_name = _settings.ledger_table
        region = _settings.aws_region

    member_id = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)
    seq = NumberAttribute()
    created_seq = UnicodeAttribute()  # "<created_at>#<seq>": the activity feed's order, filterable by date
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
    bonus = UnicodeAttribute(null=True)
    previous_purchase_day = UnicodeAttribute(null=True)
    previous_purchase_day_2 = UnicodeAttribute(null=True)


class RewardModel(Model):
    """A catalog reward; all under pk "REWARD" so the catalog is one Query."""

    class Meta:
        table_name = _settings.catalog_table
        region = _settings.aws_region

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


class CounterModel(Model):
    """A counter item of the statistics table (see loyalty.domain.stats); counters are dynamic attributes."""

    class Meta:
        table_name = _settings.stats_table
        region = _settings.aws_region

    pk = UnicodeAttribute(hash_key=True)
