"""The privacy API models: a member's export (everything held about them) and the erasure's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from loyalty.api.fields import View
from loyalty.domain.model import Entry, Member
from loyalty.domain.ledger import lots as lots_by_expiry
from loyalty.members.api import ActivityItem, ExpiringPoints, MemberView, as_of
from loyalty.program import Program
from loyalty.rewards.api import VoucherView
from loyalty.privacy.use_cases import MAX_EXPORT_ENTRIES


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
    attributes: dict[str, str | int | bool] = Field(
        default_factory=dict, description="The business's own values set on the member (PATCH by pos or admin).")

    @classmethod
    def of(cls, member: Member, program: Program, now: datetime) -> MemberRecord:
        member = as_of(member, program, now)
        view = MemberView.of(member, program, now)
        return cls(
            **dict(view), sub=member.sub, referred_by=member.referred_by, referral_bonus_paid=member.referral_bonus_paid,
            blocked_reason=member.blocked_reason, status_changed_at=member.status_changed_at,
            profile_updated_at=member.profile_updated_at, points_returned=member.points_returned, qualifying_points_by_month=dict(sorted(member.qualifying.items())),
            lots=[ExpiringPoints(points=points, expires_at=at) for at, points in lots_by_expiry(member)],
            last_purchase_day=member.last_purchase_day, attributes=dict(member.attributes),
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


class ConsentView(View):
    marketing_opt_in: bool
    at: datetime
    by: str = Field(description='"member"; for a change by staff, the staff token\'s sub or client_id to pos and '
                    'admin tokens, "staff" to the member.')


class MessageRecord(View):
    kind: str
    channel: str
    category: str
    template_version: str
    locale: str
    status: str
    reason: str | None
    at: datetime


class MemberExportView(View):
    member: MemberRecord
    consents: list[ConsentView] = Field(description="Every change of the marketing consent, oldest first.")
    activity: list[LedgerRecord] = Field(
        description=f"The ledger's entries, newest first (as the activity): all of them, or the newest {MAX_EXPORT_ENTRIES}.")
    activity_next_cursor: str | None = Field(description=(
        f"null: `activity` holds every entry. Otherwise the ledger holds more than {MAX_EXPORT_ENTRIES}: read the "
        "older entries with GET /v1/members/{member_id}/activity?cursor=<this>, page by page."))
    vouchers: list[VoucherView] = Field(description="The vouchers of the exported redemptions, oldest first.")
    messages: list[MessageRecord] = Field(default_factory=list, description=(
        "The messages sent to the member, newest first (kind, channel, status, time; the log keeps no address or body)."))

    @classmethod
    def of(cls, export, program: Program, now: datetime, *, staff_view: bool) -> MemberExportView:
        """`staff_view`: the caller is pos or admin; a member sees no staff identity (entries' actor, consent's by)."""
        def by(consent) -> str:
            return consent.by if staff_view or consent.by in ("member", "unsubscribe") else "staff"

        return cls(
            member=MemberRecord.of(export.member, program, now),
            consents=[ConsentView(marketing_opt_in=c.marketing_opt_in, at=c.at, by=by(c)) for c in export.consents],
            activity=[LedgerRecord.of(entry, staff_view=staff_view) for entry in export.entries],
            activity_next_cursor=export.next_cursor,
            vouchers=[VoucherView.of(voucher) for voucher in export.vouchers],
            messages=[MessageRecord(kind=m.kind, channel=m.channel, category=m.category, template_version=m.template_version,
                                    locale=m.locale, status=m.status, reason=m.reason, at=m.at) for m in export.messages],
        )


class ErasureView(View):
    member_id: str
    erased_at: datetime
