"""The members' API models: enrolment, profile, block, the member view, the activity and the search."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from loyalty.api.fields import Channel, DateString, Email, Reason, Request, Text, View
from loyalty.domain.access import Caller
from loyalty.domain.model import Entry, Member
from loyalty.domain.ledger import pending_lots, points_pending, settle, tier_progress
from loyalty.domain.membership import PROFILE_FIELDS
from loyalty.domain.ledger import lots as lots_by_expiry
from loyalty.earning.api import BreakdownLine, Explanation, LimitedAward
from loyalty.program import Program


# BCP 47 (RFC 5646) language tags as messages use them: a language, then script, region or variant subtags.
Locale = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$", max_length=35,
                              description="A BCP 47 language tag: en, de, pt-BR")]


class EnrollRequest(Request):
    email: Email
    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
    birthday: DateString | None = None
    channel: Channel | None = Field(default=None, description="Defaults to app for a member token, store otherwise.")
    referral_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{4,16}$")] | None = None
    marketing_opt_in: StrictBool = False
    locale: Locale | None = Field(default=None, description="The language of the member's messages; default the program's.")

    @model_validator(mode="after")
    def _plausible_birthday(self) -> EnrollRequest:
        _check_birthday(self.birthday)
        return self


def _check_birthday(birthday: date | None) -> None:
    if birthday and not date(1900, 1, 1) <= birthday <= date.today():
        raise ValueError("birthday must be a past date after 1900")


AttributeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
AttributeValue = StrictBool | Annotated[StrictInt, Field(ge=-10**15, le=10**15)] | Annotated[Text, Field(max_length=200)]
MAX_ATTRIBUTES = 20  # domain.facts.MAX_ATTRIBUTES: the member's attributes after the change, in all


class ProfileRequest(Request):
    """`PATCH /v1/members/{member_id}`: the fields given change (null clears name, phone or birthday); at least one."""

    email: Email | None = None
    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
    birthday: DateString | None = Field(default=None, description="Set once by the member; staff may correct it.")
    marketing_opt_in: StrictBool | None = None
    locale: Locale | None = Field(default=None, description="null: the program's")
    attributes: dict[AttributeName, AttributeValue | None] | None = Field(
        default=None, max_length=MAX_ATTRIBUTES,
        description=f"pos and admin only (403 for a member token): the business's own facts, strings (at most 200 "
        f"characters), integers or booleans; each name given is set, null removes it; at most {MAX_ATTRIBUTES} in all.",
    )

    @model_validator(mode="after")
    def _meaningful(self) -> ProfileRequest:
        if not self.model_fields_set & {*PROFILE_FIELDS, "attributes"}:
            raise ValueError(f"give at least one of {', '.join(PROFILE_FIELDS)}, attributes")
        for name in ("email", "marketing_opt_in", "attributes"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        _check_birthday(self.birthday)
        return self

    def changes(self) -> dict[str, object]:
        """The fields the request gave, null included."""
        return {name: getattr(self, name) for name in (*PROFILE_FIELDS, "attributes") if name in self.model_fields_set}


class BlockRequest(Request):
    reason: Reason


class EnrollResponse(View):
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


class ExpiringPoints(View):
    points: int
    expires_at: datetime


class PendingPoints(View):
    points: int
    available_at: datetime


def as_of(member: Member, program: Program, now: datetime) -> Member:
    """The member as every view shows it: pending points whose available_at has passed are available (computed on
    read; the next write or the daily job stores it)."""
    settled = settle(member, program, now)
    return settled.member if settled else member


class TierProgressView(View):
    qualifying_points: int
    window_months: int
    next_tier: str | None
    points_to_next_tier: int | None


class MemberView(View):
    member_id: str
    email: str
    name: str | None
    phone: str | None
    birthday: date | None
    channel: str
    marketing_opt_in: bool
    locale: str | None = Field(description="The language of the member's messages; null: the program's")
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
        member = as_of(member, program, now)
        progress = tier_progress(member, program, now)
        lots = [ExpiringPoints(points=p, expires_at=at) for at, p in lots_by_expiry(member)]
        soon = [lot for lot in lots if lot.expires_at <= now + timedelta(days=90)]
        return cls(
            member_id=member.member_id, email=member.email, name=member.name, phone=member.phone,
            birthday=member.birthday, channel=member.channel, marketing_opt_in=member.marketing_opt_in, locale=member.locale,
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


class ActivityItem(View):
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
    program_version: int | None = Field(
        default=None, description="earn: the program version it earned under; return: the one its purchase earned under.")
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
            **(Explanation.of_entry(entry) if entry.type == "earn" else
               {"program_version": entry.program_version} if entry.type == "return" else {}),
        )


class ActivityPage(View):
    items: list[ActivityItem]
    next_cursor: str | None


class MemberSearchPage(View):
    items: list[MemberView] = Field(description="The member with that e-mail, or none.")
    next_cursor: str | None = None


def default_channel(caller: Caller) -> str:
    return "app" if caller.is_member else "store"
