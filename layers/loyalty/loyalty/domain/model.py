"""The member and the ledger entry as plain values."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

ACTIVE, BLOCKED = "active", "blocked"
ERASED = "erased"  # personal data gone; the member reads as absent everywhere (Caller.ensure_may_access)


PENDING_KEY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def pending_key(available: datetime) -> str:
    """A pending lot's key: when it becomes available, in UTC to the second (keys sort in time order)."""
    return available.astimezone(timezone.utc).strftime(PENDING_KEY_FORMAT)


def pending_time(key: str) -> datetime:
    return datetime.strptime(key, PENDING_KEY_FORMAT).replace(tzinfo=timezone.utc)


@dataclass
class Member:
    member_id: str
    email: str
    enrolled_at: datetime
    channel: str
    tier: str
    referral_code: str
    name: str | None = None
    phone: str | None = None
    birthday: date | None = None
    marketing_opt_in: bool = False
    locale: str | None = None  # BCP 47: the language of the member's messages; None: the program's
    sub: str | None = None
    referred_by: str | None = None
    referral_bonus_paid: bool = False
    balance: int = 0
    lots: dict[str, int] = field(default_factory=dict)  # expiry month -> points left
    qualifying: dict[str, int] = field(default_factory=dict)  # earn month -> qualifying points
    # Pending purchase points by when they become available (rules.pending_key); not in `balance` until then.
    pending: dict[str, int] = field(default_factory=dict)
    pending_qualifying: dict[str, int] = field(default_factory=dict)  # the same keys: qualifying points held back
    released_through: str | None = None  # the latest settle that made pending points available (a pending key)
    purchases: int = 0
    points_earned: int = 0  # lifetime points credited (purchases and bonuses)
    points_redeemed: int = 0
    points_expired: int = 0
    points_returned: int = 0  # points taken back by returns
    version: int = 0  # bumped by every write (scheduled jobs too); a ledger entry's sequence number, its order
    last_purchase_day: str | None = None  # in the program's time zone, for the report's counters
    previous_purchase_day: str | None = None
    reminded_lots: list[str] = field(default_factory=list)  # lot months already announced as expiring soon
    tier_reviewed: str | None = None  # the month of the last tier review
    status: str = ACTIVE  # "active" | "blocked": a blocked member cannot earn, redeem or be credited
    blocked_reason: str | None = None  # why, as the admin wrote it (kept on the member, never in events)
    status_changed_at: datetime | None = None
    erased_at: datetime | None = None
    profile_updated_at: datetime | None = None  # the last PATCH that changed a profile field
    # The place in time of the member's latest entry in the ledger's order (never moves back): an entry applied
    # later is never listed before it, whatever its own clock said. None: no entry since this was kept.
    ledger_at: datetime | None = None
    # Facts (domain/facts.py): kept by the writes that already happen, bounded whatever the member's age
    spend_minor: int = 0  # all time, after returns
    last_purchase_at: datetime | None = None
    redemptions: int = 0
    last_redemption_at: datetime | None = None
    days: dict[str, list[int]] = field(default_factory=dict)  # day number -> [purchases, spend]: at most 90
    months: dict[str, list[int]] = field(default_factory=dict)  # local month -> [purchases, spend]: at most 12
    categories: dict[str, int] = field(default_factory=dict)  # category -> last day number bought: at most 50
    attributes: dict[str, str | int | bool] = field(default_factory=dict)  # the business's own: at most 20
    activated: dict[str, datetime] = field(default_factory=dict)  # offers the member activated: campaign id -> when

    def copy(self) -> Member:
        clone = Member(**self.__dict__)
        clone.lots = dict(self.lots)
        clone.qualifying = dict(self.qualifying)
        clone.pending = dict(self.pending)
        clone.pending_qualifying = dict(self.pending_qualifying)
        clone.reminded_lots = list(self.reminded_lots)
        clone.days = {key: list(value) for key, value in self.days.items()}
        clone.months = {key: list(value) for key, value in self.months.items()}
        clone.categories = dict(self.categories)
        clone.attributes = dict(self.attributes)
        clone.activated = dict(self.activated)
        return clone


@dataclass(frozen=True)
class EntryRef:
    """What makes an entry unique for its member: its kind and the id that came with the request
    (the idempotency key: a transaction_id, a return_id, an Idempotency-Key) or that the rule gave it."""

    kind: str  # earn | bonus | redeem | return | expire | adjust | cancel | erase
    id: str


@dataclass(frozen=True)
class Profile:
    """Who enrolls: what the member gives about themself."""

    email: str
    channel: str
    name: str | None = None
    phone: str | None = None
    birthday: date | None = None
    marketing_opt_in: bool = False
    locale: str | None = None


@dataclass(frozen=True)
class Consent:
    """A change of the member's marketing consent: to what, when, and by whom ("member" or a staff token's id)."""

    marketing_opt_in: bool
    at: datetime
    by: str


@dataclass(frozen=True)
class BasketItem:
    sku: str
    amount_minor: int
    quantity: int = 1
    category: str | None = None


@dataclass(frozen=True)
class Purchase:
    """A purchase as a till reports it: what the earn rules (and later campaigns) compute on."""

    transaction_id: str
    amount_minor: int
    currency: str
    occurred_at: datetime | None = None  # None: now
    store_id: str | None = None
    channel: str | None = None
    items: tuple[BasketItem, ...] = ()


@dataclass(frozen=True)
class PointsLine:
    """One line of an earn's breakdown: where some of its points came from."""

    source: str  # base | tier | campaign | bonus
    points: int
    campaign_id: str | None = None  # the campaign, for source "campaign"
    program_version: int | None = None  # the version whose rules gave it (None: an entry from before versions)


@dataclass(frozen=True)
class LimitCut:
    """A campaign's award cut by one of its limits: what it wanted and what it gave."""

    campaign_id: str
    wanted: int
    given: int


@dataclass
class Entry:
    """One change of a member's balance, ordered per member by `seq`."""

    member_id: str
    ref: EntryRef
    seq: int
    entry_id: str
    type: str
    points: int
    balance_after: int
    created_at: datetime
    request_hash: str | None = None
    transaction_id: str | None = None
    reward_id: str | None = None
    # Set only when an entry applied before this one was recorded at a later time (another instance's clock,
    # a retry after a lost race): the time it is listed at, that entry's, so the feed keeps the applied order.
    ledger_at: datetime | None = None
    # earn
    amount_minor: int | None = None
    currency: str | None = None
    store_id: str | None = None
    channel: str | None = None
    occurred_at: datetime | None = None
    qualifying_points: int | None = None
    expires_at: datetime | None = None
    available_at: datetime | None = None  # earn (and its referral bonuses): when pending points become spendable
    tier_after: str | None = None
    tier_changed: bool | None = None
    refunded_minor: int | None = None  # earn: refunded so far
    points_reversed: int | None = None  # earn: points taken back so far (recovered or not)
    qualifying_reversed: int | None = None
    # return
    return_id: str | None = None
    points_unrecovered: int | None = None
    # redeem
    voucher_code: str | None = None
    value_minor: int | None = None
    lots_consumed: dict[str, int] | None = None
    pending_consumed: dict[str, int] | None = None  # return, erase: pending points taken, by available_at key
    # cancel (of a redemption; voucher_code and reward_id are the redemption's)
    redemption_id: str | None = None
    points_forfeited: int | None = None  # spent from lots that have expired since: not given back
    # bonus
    bonus: str | None = None  # "welcome" | "referral"
    # adjust
    reason: str | None = None
    actor: str | None = None  # who adjusted: the admin token's sub or client_id
    # earn: the member's two previous purchase days (for exact active and repeat counts)
    previous_purchase_day: str | None = None
    previous_purchase_day_2: str | None = None
    items: tuple[BasketItem, ...] | None = None  # earn: the basket, as the till sent it
    # earn: the explanation. base_points before tier and campaigns; the breakdown adds up to `points`
    base_points: int | None = None
    program_version: int | None = None  # earn: the program version in force at occurred_at, that it earned under
    breakdown: tuple[PointsLine, ...] | None = None
    limited: tuple[LimitCut, ...] | None = None
    # earn: the campaigns (ids, space-separated) whose points_awarded and times_applied the ledger stream's consumer
    # adds (not the earn's transaction: no limit of theirs counts them)
    statistics_later: str | None = None


_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud at a counter


def new_code(length: int) -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def new_entry_id() -> str:
    return "e_" + secrets.token_hex(10)


@dataclass(frozen=True)
class Reward:
    reward_id: str
    name: str
    description: str
    kind: str  # discount | free_item | perk
    points: int
    value_minor: int
    min_tier: str | None = None
    active: bool = True
    stock: int | None = None  # None: unlimited
    starts_at: datetime | None = None  # redeemable from (inclusive); None: no start
    ends_at: datetime | None = None  # redeemable until (exclusive); None: no end
    per_member_limit: int | None = None  # redemptions per member, ever; None: no limit


@dataclass(frozen=True)
class Voucher:
    """What a redemption hands the member to show at a till; used once."""

    voucher_code: str
    member_id: str
    redemption_id: str
    reward_id: str | None
    value_minor: int
    issued_at: datetime
    status: str = "issued"  # issued | used | cancelled
    used_at: datetime | None = None
    store_id: str | None = None

    @classmethod
    def of(cls, redemption: Entry) -> Voucher:
        return cls(redemption.voucher_code or "", redemption.member_id, redemption.entry_id, redemption.reward_id,
                   redemption.value_minor or 0, redemption.created_at)


@dataclass(frozen=True)
class Redemption:
    """What cancelling a redemption needs, kept under its redemption_id (the ledger entry's key embeds the
    Idempotency-Key instead, which the cancel's caller does not have)."""

    member_id: str
    redemption_id: str
    idempotency_key: str
    points: int  # spent
    lots_consumed: dict[str, int]  # expiry month -> points taken from it
    reward_id: str | None
    voucher_code: str
    stock_taken: bool  # the reward's stock went one down (limited stock)
    created_at: datetime

    @classmethod
    def of(cls, redemption: Entry, stock_taken: bool) -> Redemption:
        return cls(redemption.member_id, redemption.entry_id, redemption.ref.id, -redemption.points,
                   dict(redemption.lots_consumed or {}), redemption.reward_id, redemption.voucher_code or "",
                   stock_taken, redemption.created_at)


def new_member_id() -> str:
    return "m" + secrets.token_hex(10)
