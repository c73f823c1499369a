"""API models (pydantic). Types are strict: "12" or 12.0 for an integer, 1 for a boolean are rejected."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, RootModel, StrictBool, model_validator

from loyalty.domain.access import Caller
from loyalty.domain.model import Entry, Member, Reward, Voucher
from loyalty.domain.rules import lots as lots_by_expiry
from loyalty.domain.rules import PROFILE_FIELDS, pending_lots, points_pending, settle, tier_progress
from loyalty.program import Program
from loyalty.service import MAX_EXPORT_ENTRIES

MAX_AMOUNT_MINOR = 100_000_000  # one purchase of a million in major units is not a purchase, it is a typo
MAX_POINTS = 1_000_000_000
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
MEMBER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
REWARD_ID_PATTERN = r"^[a-z0-9-]{1,64}$"
REDEMPTION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Channel = Literal["app", "web", "store", "social", "partner"]


def _only_strings(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _plain_text(value: str) -> str:
    """Refuses control characters (NUL, escapes, line breaks) and lone surrogates, which no store or screen wants."""
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise ValueError("must not contain control characters")
    return value


# RFC 5321/5322 as mail systems accept in practice: a dot-atom local part (UTF-8 allowed, RFC 6531)
# and a host name of two or more labels; no quoted local parts, comments or IP literals.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u00a0-\U0010ffff-]+"
_LABEL = r"[^\W_](?:[^\W_]|-){0,61}(?<!-)"
_EMAIL = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>{_LABEL}(?:\.{_LABEL})+)")


def _email(value: str) -> str:
    if not value.isprintable() or any(char.isspace() for char in value):
        raise ValueError("must not contain spaces or control characters")
    found = _EMAIL.fullmatch(value)
    if not found or len(found["local"]) > 64 or len(found["domain"]) > 253 or found["domain"].rsplit(".", 1)[1].isdigit():
        raise ValueError("must be an e-mail address such as ann@example.com")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone (use Z for UTC)")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before the first representable UTC moment
        raise ValueError("is outside the range of dates this API accepts") from None


Amount = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_MINOR, description="Minor units (1299 = 12.99).")]
Points = Annotated[int, Field(strict=True, gt=0, le=MAX_POINTS)]
IdempotencyId = Annotated[str, Field(pattern=IDEMPOTENCY_KEY_PATTERN)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]
Text = Annotated[str, AfterValidator(_plain_text)]
Email = Annotated[str, Field(max_length=254, description="An e-mail address; unique case-insensitively."),
                  AfterValidator(_email)]
DateString = Annotated[date, BeforeValidator(_only_strings)]
Timestamp = Annotated[datetime, BeforeValidator(_only_strings), AfterValidator(_utc)]


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class EnrollRequest(Request):
    email: Email
    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
    birthday: DateString | None = None
    channel: Channel | None = Field(default=None, description="Defaults to app for a member token, store otherwise.")
    referral_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{4,16}$")] | None = None
    marketing_opt_in: StrictBool = False

    @model_validator(mode="after")
    def _plausible_birthday(self) -> EnrollRequest:
        _check_birthday(self.birthday)
        return self


def _check_birthday(birthday: date | None) -> None:
    if birthday and not date(1900, 1, 1) <= birthday <= date.today():
        raise ValueError("birthday must be a past date after 1900")


class ProfileRequest(Request):
    """`PATCH /v1/members/{member_id}`: the fields given change (null clears name, phone or birthday); at least one."""

    email: Email | None = None
    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
    birthday: DateString | None = Field(default=None, description="Set once by the member; staff may correct it.")
    marketing_opt_in: StrictBool | None = None

    @model_validator(mode="after")
    def _meaningful(self) -> ProfileRequest:
        if not self.model_fields_set & set(PROFILE_FIELDS):
            raise ValueError(f"give at least one of {', '.join(PROFILE_FIELDS)}")
        for name in ("email", "marketing_opt_in"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        _check_birthday(self.birthday)
        return self

    def changes(self) -> dict[str, object]:
        """The fields the request gave, null included."""
        return {name: getattr(self, name) for name in PROFILE_FIELDS if name in self.model_fields_set}


BasketId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="An id: 1-64 of A-Za-z0-9._:-")]


class PurchaseItem(Request):
    sku: BasketId
    category: BasketId | None = Field(default=None, description="Lines of the program's earn.excluded_categories earn nothing.")
    amount_minor: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT_MINOR, description="The line's total.")]
    quantity: Annotated[int, Field(strict=True, gt=0, le=10_000)] = 1


class EarnRequest(Request):
    transaction_id: IdempotencyId = Field(description="The purchase's id: the idempotency key.")
    amount_minor: Amount
    currency: Currency
    store_id: Annotated[Text, Field(min_length=1, max_length=64)] | None = None
    channel: Channel | None = None
    occurred_at: Timestamp | None = None
    items: Annotated[list[PurchaseItem], Field(max_length=200)] | None = Field(
        default=None, description="The basket: points are earned on its eligible lines, never on more than amount_minor.",
    )


class ReturnRequest(Request):
    transaction_id: IdempotencyId = Field(description="The original purchase's transaction_id.")
    return_id: IdempotencyId = Field(description="The refund's id: the idempotency key.")
    amount_minor: Amount = Field(description="The amount refunded, in minor units.")


class RedemptionRequest(Request):
    reward_id: Annotated[str, Field(pattern=REWARD_ID_PATTERN)] | None = None
    points: Points | None = Field(default=None, description="A discount worth points × point_value_minor.")

    @model_validator(mode="after")
    def _exactly_one(self) -> RedemptionRequest:
        if (self.reward_id is None) == (self.points is None):
            raise ValueError("give either reward_id or points")
        return self


Reason = Annotated[Text, Field(min_length=1, max_length=500)]


class AdjustmentRequest(Request):
    points: Annotated[int, Field(strict=True, ge=-MAX_POINTS, le=MAX_POINTS,
                                 description="Signed: a credit (> 0) or a debit (< 0); never 0.")]
    reason: Reason

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustmentRequest:
        if self.points == 0:
            raise ValueError("points must not be 0")
        return self


class BlockRequest(Request):
    reason: Reason


# ------------------------------------------------------------------ responses


class EnrollResponse(BaseModel):
    member_id: str
    tier: str
    points_balance: int
    referral_code: str
    enrolled_at: datetime

    @classmethod
    def of(cls, member: Member) -> EnrollResponse:
        return cls(
            member_id=member.member_id, tier=member.tier, points_balance=member.balance,
            referral_code=member.referral_code, enrolled_at=member.enrolled_at,
        )


class BreakdownLine(BaseModel):
    source: Literal["base", "tier", "campaign", "bonus"]
    campaign_id: str | None = Field(description="The campaign, for source campaign; else null.")
    points: int


class LimitedAward(BaseModel):
    campaign_id: str
    wanted: int = Field(description="What the campaign's effect gave before its limits.")
    given: int = Field(description="What its limits left.")


class NotAppliedCampaign(BaseModel):
    campaign_id: str
    reason: str = Field(description="The first failing condition and the value it saw.")


class Explanation(BaseModel):
    """Why an earn credits what it does: base points, then the breakdown (adding up to the points), then limits."""

    base_points: int = Field(description="Points on the eligible amount before tier and campaigns.")
    breakdown: list[BreakdownLine] = Field(description="Where the points came from; adds up to points.")
    limited: list[LimitedAward] = Field(description="Campaign awards cut by a limit.")

    @staticmethod
    def of_entry(entry: Entry) -> dict[str, Any]:
        if entry.breakdown is None:  # an entry written before explanations: base and tier from what it kept
            base = entry.qualifying_points or 0
            lines = [BreakdownLine(source="base", campaign_id=None, points=base)]
            if entry.points != base:
                lines.append(BreakdownLine(source="tier", campaign_id=None, points=entry.points - base))
            return {"base_points": base, "breakdown": lines, "limited": []}
        return {
            "base_points": entry.base_points or 0,
            "breakdown": [BreakdownLine(source=line.source, campaign_id=line.campaign_id, points=line.points)
                          for line in entry.breakdown],
            "limited": [LimitedAward(campaign_id=cut.campaign_id, wanted=cut.wanted, given=cut.given)
                        for cut in entry.limited or ()],
        }


class EarnResponse(Explanation):
    entry_id: str
    transaction_id: str
    points: int
    balance: int
    tier: str
    tier_changed: bool
    expires_at: datetime
    available_at: datetime | None = Field(description="When the points become spendable (pending until then); null: at once.")

    @classmethod
    def of(cls, entry: Entry) -> EarnResponse:
        return cls(
            entry_id=entry.entry_id, transaction_id=entry.transaction_id or "", points=entry.points,
            balance=entry.balance_after, tier=entry.tier_after or "", tier_changed=bool(entry.tier_changed),
            expires_at=entry.expires_at, available_at=entry.available_at, **Explanation.of_entry(entry),
        )


class EarnPreview(Explanation):
    points: int = Field(description="What the earn would credit now.")
    not_applied: list[NotAppliedCampaign] = Field(description="Every active campaign that would not apply, and why.")

    @classmethod
    def of(cls, entry: Entry, not_applied) -> EarnPreview:
        return cls(points=entry.points, **Explanation.of_entry(entry),
                   not_applied=[NotAppliedCampaign(campaign_id=skip.campaign_id, reason=skip.reason) for skip in not_applied])


class ReturnResponse(BaseModel):
    entry_id: str
    return_id: str
    transaction_id: str
    points: int = Field(description="Points taken back (negative or zero).")
    points_unrecovered: int = Field(description="Points the balance could not cover.")
    balance: int

    @classmethod
    def of(cls, entry: Entry) -> ReturnResponse:
        return cls(
            entry_id=entry.entry_id, return_id=entry.return_id or "", transaction_id=entry.transaction_id or "",
            points=entry.points, points_unrecovered=entry.points_unrecovered or 0, balance=entry.balance_after,
        )


class RedemptionResponse(BaseModel):
    redemption_id: str
    reward_id: str | None
    points: int = Field(description="Points spent.")
    balance: int
    voucher_code: str
    value_minor: int

    @classmethod
    def of(cls, entry: Entry) -> RedemptionResponse:
        return cls(
            redemption_id=entry.entry_id, reward_id=entry.reward_id, points=-entry.points,
            balance=entry.balance_after, voucher_code=entry.voucher_code or "", value_minor=entry.value_minor or 0,
        )


class AdjustmentResponse(BaseModel):
    entry_id: str
    points: int = Field(description="Signed: credited (> 0) or debited (< 0).")
    balance: int
    reason: str
    expires_at: datetime | None = Field(description="When credited points expire; null for a debit.")

    @classmethod
    def of(cls, entry: Entry) -> AdjustmentResponse:
        return cls(entry_id=entry.entry_id, points=entry.points, balance=entry.balance_after, reason=entry.reason or "",
                   expires_at=entry.expires_at)


class CancelResponse(BaseModel):
    entry_id: str
    redemption_id: str
    reward_id: str | None
    voucher_code: str
    points: int = Field(description="Points given back (0 or more).")
    points_forfeited: int = Field(description="Points the redemption took from lots that have expired since: not given back.")
    balance: int

    @classmethod
    def of(cls, entry: Entry) -> CancelResponse:
        return cls(entry_id=entry.entry_id, redemption_id=entry.redemption_id or "", reward_id=entry.reward_id,
                   voucher_code=entry.voucher_code or "", points=entry.points,
                   points_forfeited=entry.points_forfeited or 0, balance=entry.balance_after)


class RewardItem(BaseModel):
    reward_id: str
    name: str
    description: str
    kind: Literal["discount", "free_item", "perk"]
    points: int
    value_minor: int
    min_tier: str | None
    available: bool
    starts_at: datetime | None = Field(default=None, description="Redeemable from (null: no start).")
    ends_at: datetime | None = Field(default=None, description="Redeemable until, exclusive (null: no end).")
    per_member_limit: int | None = Field(default=None, description="Redemptions per member, ever (null: no limit).")

    @classmethod
    def of(cls, reward: Reward, available: bool) -> RewardItem:
        return cls(
            reward_id=reward.reward_id, name=reward.name, description=reward.description, kind=reward.kind,
            points=reward.points, value_minor=reward.value_minor, min_tier=reward.min_tier, available=available,
            starts_at=reward.starts_at, ends_at=reward.ends_at, per_member_limit=reward.per_member_limit,
        )


class RewardsPage(BaseModel):
    items: list[RewardItem]
    next_cursor: str | None = None


class ExpiringPoints(BaseModel):
    points: int
    expires_at: datetime


class PendingPoints(BaseModel):
    points: int
    available_at: datetime


def as_of(member: Member, program: Program, now: datetime) -> Member:
    """The member as every view shows it: pending points whose available_at has passed are available (computed on
    read; the next write or the daily job stores it)."""
    settled = settle(member, program, now)
    return settled.member if settled else member


class TierProgressView(BaseModel):
    qualifying_points: int
    window_months: int
    next_tier: str | None
    points_to_next_tier: int | None


class MemberView(BaseModel):
    member_id: str
    email: str
    name: str | None
    phone: str | None
    birthday: date | None
    channel: str
    marketing_opt_in: bool
    enrolled_at: datetime
    referral_code: str
    tier: str
    tier_progress: TierProgressView
    points_balance: int = Field(description="What can be spent now (pending points are not in it).")
    points_pending: int = Field(description="Purchase points not spendable yet (the program's return window).")
    pending: list[PendingPoints] = Field(description="Pending points by when they become available, soonest first.")
    points_value_minor: int = Field(description="What the balance is worth: points × point_value_minor.")
    next_expiry: ExpiringPoints | None = Field(description="The soonest-expiring points.")
    points_expiring_soon: list[ExpiringPoints] = Field(description="Lots expiring within the next 90 days.")
    lifetime_points: int
    points_redeemed: int
    points_expired: int
    purchases: int
    status: Literal["active", "blocked"] = Field(description="blocked: no earning, redeeming or credits; reads go on.")

    @classmethod
    def of(cls, member: Member, program: Program, now: datetime) -> MemberView:
        from datetime import timedelta

        member = as_of(member, program, now)
        progress = tier_progress(member, program, now)
        lots = [ExpiringPoints(points=p, expires_at=at) for at, p in lots_by_expiry(member)]
        soon = [lot for lot in lots if lot.expires_at <= now + timedelta(days=90)]
        return cls(
            member_id=member.member_id, email=member.email, name=member.name, phone=member.phone,
            birthday=member.birthday, channel=member.channel, marketing_opt_in=member.marketing_opt_in,
            enrolled_at=member.enrolled_at, referral_code=member.referral_code, tier=member.tier,
            tier_progress=TierProgressView(
                qualifying_points=progress.qualifying_points, window_months=program.qualifying_window_months,
                next_tier=progress.next_tier, points_to_next_tier=progress.points_to_next_tier,
            ),
            points_balance=member.balance, points_pending=points_pending(member),
            pending=[PendingPoints(points=points, available_at=at) for at, points in pending_lots(member)],
            points_value_minor=member.balance * program.point_value_minor,
            next_expiry=lots[0] if lots else None, points_expiring_soon=soon,
            lifetime_points=member.points_earned, points_redeemed=member.points_redeemed,
            points_expired=member.points_expired, purchases=member.purchases, status=member.status,
        )


class ActivityItem(BaseModel):
    entry_id: str
    type: Literal["earn", "bonus", "redeem", "return", "expire", "adjust", "cancel"]
    points: int
    balance_after: int
    created_at: datetime
    transaction_id: str | None = None
    reward_id: str | None = None
    return_id: str | None = None
    amount_minor: int | None = None
    bonus: str | None = None
    points_unrecovered: int | None = None
    reason: str | None = Field(default=None, description="adjust: why, as the admin wrote it.")
    actor: str | None = Field(
        default=None, description="adjust: the admin token's sub or client_id; shown to pos and admin tokens only.")
    redemption_id: str | None = Field(default=None, description="cancel: the redemption cancelled.")
    points_forfeited: int | None = Field(default=None, description="cancel: points not given back (their lots expired).")
    base_points: int | None = Field(default=None, description="earn: points on the eligible amount before tier and campaigns.")
    breakdown: list[BreakdownLine] | None = Field(default=None, description="earn: where the points came from.")
    limited: list[LimitedAward] | None = Field(default=None, description="earn: campaign awards cut by a limit.")
    available_at: datetime | None = Field(
        default=None, description="earn and its referral bonus: when pending points become spendable; null: at once.",
    )

    @classmethod
    def of(cls, entry: Entry, *, staff_view: bool) -> ActivityItem:
        """`staff_view`: the caller is pos or admin; a member never sees who on the staff acted (`actor`)."""
        return cls(
            entry_id=entry.entry_id, type=entry.type, points=entry.points, balance_after=entry.balance_after,
            created_at=entry.created_at, transaction_id=entry.transaction_id, reward_id=entry.reward_id,
            return_id=entry.return_id, amount_minor=entry.amount_minor, bonus=entry.bonus,
            points_unrecovered=entry.points_unrecovered, reason=entry.reason, actor=entry.actor if staff_view else None,
            redemption_id=entry.redemption_id, points_forfeited=entry.points_forfeited, available_at=entry.available_at,
            **(Explanation.of_entry(entry) if entry.type == "earn" else {}),
        )


class ActivityPage(BaseModel):
    items: list[ActivityItem]
    next_cursor: str | None


class MemberSearchPage(BaseModel):
    items: list[MemberView] = Field(description="The member with that e-mail, or none.")
    next_cursor: str | None = None


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, UPPER_SNAKE_CASE; see the error table in the README.")
    message: str
    errors: list[ErrorDetail] | None = Field(default=None, description="Validation errors: which field, and why.")
    details: dict[str, Any] | None = Field(
        default=None, description='What a refused business rule saw, e.g. {"balance": 40, "needed": 120}.'
    )


class GatewayError(BaseModel):
    """API Gateway's own refusal body (HTTP APIs cannot change it)."""

    message: str


class RefusalBody(RootModel[ErrorBody | GatewayError]):
    """A refusal from the gateway (`{"message"}`) or from the function (`{code, message}`)."""


def default_channel(caller: Caller) -> str:
    return "app" if caller.is_member else "store"


class DayReport(BaseModel):
    date: date
    enrollments: int
    enrollments_by_channel: dict[str, int]
    active_members: int = Field(description="Distinct members with a purchase that day.")
    repeat_purchasers: int = Field(description="Members with two or more purchases that day.")
    purchases: int
    revenue_minor: int
    refunds_minor: int
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_returned: int = Field(description="Points taken back by returns.")
    points_debited: int = Field(description="Points taken off by admin adjustments (debits).")
    points_forfeited: int = Field(default=0, description="The balances of members erased that day.")


class ProgramReportView(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    time_zone: str
    enrollments: int
    enrollments_by_channel: dict[str, int]
    active_members: int = Field(description="Distinct members with any purchase in the range.")
    repeat_purchasers: int = Field(description="Distinct members with two or more purchases in the range.")
    purchases: int
    revenue_minor: int
    refunds_minor: int
    points_issued: int = Field(description="Every point credited: purchases, bonuses, positive adjustments.")
    points_redeemed: int
    points_expired: int
    points_returned: int
    points_debited: int = Field(description="Points taken off by admin adjustments; credits count in points_issued.")
    points_forfeited: int = Field(default=0, description="The balances of erased members, forfeited at erasure.")
    redemption_rate: float | None = Field(description="points_redeemed / points_issued; null when none were issued.")
    repeat_purchase_rate: float | None = Field(description="repeat_purchasers / active_members; null without active members.")
    outstanding_points: int = Field(description="Points members can spend at the end of `to` (pending points are not in it).")
    outstanding_liability_minor: int = Field(description="outstanding_points × point_value_minor.")
    points_pending: int = Field(default=0, description="Purchase points still pending at the end of `to`.")
    tier_distribution: dict[str, int] = Field(description="Members per tier, now.")
    daily: list[DayReport]

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, report, program: Program) -> ProgramReportView:
        from loyalty.domain.stats import CHANNELS, active_members, repeat_purchasers

        def channels(figures) -> dict[str, int]:
            return {channel: figures(f"enrollments_{channel}") for channel in CHANNELS}

        def rate(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        daily = [
            DayReport(
                date=day.day, enrollments=day.get("enrollments"), enrollments_by_channel=channels(day.get),
                active_members=active_members([day], day.day), repeat_purchasers=repeat_purchasers([day], day.day),
                purchases=day.get("purchases"), revenue_minor=day.get("revenue_minor"), refunds_minor=day.get("refunds_minor"),
                points_issued=day.get("points_issued"), points_redeemed=day.get("points_redeemed"),
                points_expired=day.get("points_expired"), points_returned=day.get("points_returned"),
                points_debited=day.get("points_debited"), points_forfeited=day.get("points_forfeited"),
            )
            for day in report.days
        ]
        issued, redeemed = report.total("points_issued"), report.total("points_redeemed")
        return cls(
            from_=report.start, to=report.end, time_zone=program.time_zone,
            enrollments=report.total("enrollments"), enrollments_by_channel=channels(report.total),
            active_members=report.active, repeat_purchasers=report.repeat, purchases=report.total("purchases"),
            revenue_minor=report.total("revenue_minor"), refunds_minor=report.total("refunds_minor"),
            points_issued=issued, points_redeemed=redeemed, points_expired=report.total("points_expired"),
            points_returned=report.total("points_returned"), points_debited=report.total("points_debited"),
            points_forfeited=report.total("points_forfeited"),
            redemption_rate=rate(redeemed, issued),
            repeat_purchase_rate=rate(report.repeat, report.active), outstanding_points=report.outstanding_points,
            outstanding_liability_minor=report.outstanding_points * program.point_value_minor,
            points_pending=report.points_pending, tier_distribution=report.tiers, daily=daily,
        )

    def to_csv(self) -> str:
        """One row per day, then a totals row (distinct counts over the whole range)."""
        channels = list(self.enrollments_by_channel)
        header = ["date", "enrollments", *[f"enrollments_{c}" for c in channels], "active_members", "repeat_purchasers",
                  "purchases", "revenue_minor", "refunds_minor", "points_issued", "points_redeemed", "points_expired",
                  "points_returned", "points_debited", "points_forfeited"]

        def row(label: str, figures) -> list[str]:
            values = [figures.enrollments, *[figures.enrollments_by_channel[c] for c in channels], figures.active_members,
                      figures.repeat_purchasers, figures.purchases, figures.revenue_minor, figures.refunds_minor,
                      figures.points_issued, figures.points_redeemed, figures.points_expired, figures.points_returned,
                      figures.points_debited, figures.points_forfeited]
            return [label, *map(str, values)]

        lines = [header] + [row(day.date.isoformat(), day) for day in self.daily] + [row("total", self)]
        return "\r\n".join(",".join(line) for line in lines) + "\r\n"


# ------------------------------------------------------------------ catalog administration


RewardKind = Literal["discount", "free_item", "perk"]


class RewardFields(Request):
    """What `PUT /v1/rewards/{reward_id}` replaces: every field but the id and the stock."""

    name: Annotated[Text, Field(min_length=1, max_length=200)]
    description: Annotated[Text, Field(max_length=2000)]
    kind: RewardKind
    points: Points = Field(description="Its cost in points.")
    value_minor: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT_MINOR)]
    min_tier: Annotated[Text, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="A tier of the program (null: every tier).")
    active: StrictBool = True
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = Field(default=None, description="Exclusive; after starts_at.")
    per_member_limit: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] | None = Field(
        default=None, description="Redemptions per member, ever (null: no limit).")

    @model_validator(mode="after")
    def _window(self) -> RewardFields:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def reward(self, reward_id: str) -> Reward:
        return Reward(**{"reward_id": reward_id, **self.model_dump()})


class RewardCreate(RewardFields):
    reward_id: Annotated[str, Field(pattern=REWARD_ID_PATTERN)]
    stock: Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS)] | None = Field(
        default=None, description="How many are left (null: unlimited, and then it stays unlimited).")


class RewardView(BaseModel):
    """A reward as the back office sees it."""

    reward_id: str
    name: str
    description: str
    kind: RewardKind
    points: int
    value_minor: int
    min_tier: str | None
    active: bool
    stock: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    per_member_limit: int | None

    @classmethod
    def of(cls, reward: Reward) -> RewardView:
        return cls(**{name: getattr(reward, name) for name in cls.model_fields})


class StockChange(Request):
    delta: Annotated[int, Field(strict=True, ge=-MAX_POINTS, le=MAX_POINTS)] = Field(
        description="Added to the stock (negative: taken off); not 0.")

    @model_validator(mode="after")
    def _not_zero(self) -> StockChange:
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self


class StockView(BaseModel):
    reward_id: str
    stock: int


# ------------------------------------------------------------------ vouchers

VOUCHER_CODE_PATTERN = r"^[A-Z0-9]{4,32}$"


class VoucherView(BaseModel):
    voucher_code: str
    member_id: str
    redemption_id: str
    reward_id: str | None = Field(description="null for a points discount")
    value_minor: int
    status: Literal["issued", "used", "cancelled"]
    issued_at: datetime
    used_at: datetime | None
    store_id: str | None = Field(description="Where it was used, when the till said.")

    @classmethod
    def of(cls, voucher: Voucher) -> VoucherView:
        return cls(**{name: getattr(voucher, name) for name in cls.model_fields})


class UseVoucherRequest(Request):
    store_id: Annotated[Text, Field(min_length=1, max_length=64)] | None = None


# ---------------------------------------------------------------- privacy


class MemberRecord(MemberView):
    """The member view plus every other field the member item holds about the member."""

    sub: str | None = Field(description="The account (token subject) the member enrolled with, if any.")
    referred_by: str | None
    referral_bonus_paid: bool
    blocked_reason: str | None
    status_changed_at: datetime | None
    profile_updated_at: datetime | None = Field(description="The last profile update that changed a field.")
    points_returned: int
    qualifying_points_by_month: dict[str, int] = Field(description="Qualifying points by earn month (YYYY-MM).")
    lots: list[ExpiringPoints] = Field(description="Every lot, soonest-expiring first.")
    last_purchase_day: str | None = Field(description="In the program's time zone.")

    @classmethod
    def of(cls, member: Member, program: Program, now: datetime) -> MemberRecord:
        member = as_of(member, program, now)
        view = MemberView.of(member, program, now)
        return cls(
            **dict(view), sub=member.sub, referred_by=member.referred_by, referral_bonus_paid=member.referral_bonus_paid,
            blocked_reason=member.blocked_reason, status_changed_at=member.status_changed_at,
            profile_updated_at=member.profile_updated_at, points_returned=member.points_returned, qualifying_points_by_month=dict(sorted(member.qualifying.items())),
            lots=[ExpiringPoints(points=points, expires_at=at) for at, points in lots_by_expiry(member)],
            last_purchase_day=member.last_purchase_day,
        )


class LedgerRecord(ActivityItem):
    """An activity item plus everything else its ledger entry holds."""

    currency: str | None = None
    store_id: str | None = None
    channel: str | None = None
    occurred_at: datetime | None = None
    qualifying_points: int | None = None
    expires_at: datetime | None = None
    tier_after: str | None = None
    refunded_minor: int | None = None
    points_reversed: int | None = None
    voucher_code: str | None = None
    value_minor: int | None = None
    lots_consumed: dict[str, int] | None = None
    items: list[dict[str, Any]] | None = Field(default=None, description="earn: the basket, as the till sent it.")

    @classmethod
    def of(cls, entry: Entry, *, staff_view: bool) -> LedgerRecord:
        extra = {name: getattr(entry, name) for name in cls.model_fields if name not in ActivityItem.model_fields}
        extra["items"] = [dict(vars(item)) for item in entry.items] if entry.items else None
        return cls(**dict(ActivityItem.of(entry, staff_view=staff_view)), **extra)


class ConsentView(BaseModel):
    marketing_opt_in: bool
    at: datetime
    by: str = Field(description='"member"; for a change by staff, the staff token\'s sub or client_id to pos and '
                    'admin tokens, "staff" to the member.')


class MemberExportView(BaseModel):
    member: MemberRecord
    consents: list[ConsentView] = Field(description="Every change of the marketing consent, oldest first.")
    activity: list[LedgerRecord] = Field(
        description=f"The ledger's entries, newest first (as the activity): all of them, or the newest {MAX_EXPORT_ENTRIES}.")
    activity_next_cursor: str | None = Field(description=(
        f"null: `activity` holds every entry. Otherwise the ledger holds more than {MAX_EXPORT_ENTRIES}: read the "
        "older entries with GET /v1/members/{member_id}/activity?cursor=<this>, page by page."))
    vouchers: list[VoucherView] = Field(description="The vouchers of the exported redemptions, oldest first.")

    @classmethod
    def of(cls, export, program: Program, now: datetime, *, staff_view: bool) -> MemberExportView:
        """`staff_view`: the caller is pos or admin; a member sees no staff identity (entries' actor, consent's by)."""
        def by(consent) -> str:
            return consent.by if staff_view or consent.by == "member" else "staff"

        return cls(
            member=MemberRecord.of(export.member, program, now),
            consents=[ConsentView(marketing_opt_in=c.marketing_opt_in, at=c.at, by=by(c)) for c in export.consents],
            activity=[LedgerRecord.of(entry, staff_view=staff_view) for entry in export.entries],
            activity_next_cursor=export.next_cursor,
            vouchers=[VoucherView.of(voucher) for voucher in export.vouchers],
        )


class ErasureView(BaseModel):
    member_id: str
    erased_at: datetime
