"""The membership rules: enrolment, status, erasure, profile changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty.domain import errors, facts
from loyalty.domain.ledger import REFERRAL_CODE_LENGTH, Change, bonus_entry, points_pending, record, touch
from loyalty.domain.model import (
    BLOCKED,
    ERASED,
    Member,
    Profile,
    new_code,
)
from loyalty.program import Program


# ------------------------------------------------------------------ enroll


def enroll(
    member_id: str, profile: Profile, program: Program, now: datetime, *, sub: str | None = None,
    referred_by: str | None = None, referral_code: str | None = None,
) -> Change:
    """A new member with the welcome bonus. `sub`: the token subject it belongs to (app members)."""
    member = Member(
        member_id=member_id, email=profile.email.strip().lower(), enrolled_at=now, channel=profile.channel,
        tier=program.base_tier.name, referral_code=referral_code or new_code(REFERRAL_CODE_LENGTH),
        name=profile.name, phone=profile.phone, birthday=profile.birthday, marketing_opt_in=profile.marketing_opt_in,
        locale=profile.locale, sub=sub, referred_by=referred_by,
    )
    change = Change([member], tier_moves=[(member_id, None, member.tier)])
    if program.bonuses.welcome:
        change.entries.append(bonus_entry(member, program, now, "welcome", "welcome", program.bonuses.welcome))
    return change


def set_status(member: Member, status: str, now: datetime, reason: str | None = None) -> Change | None:
    """Block (with the admin's reason) or unblock; None when the member already has that status (nothing to write)."""
    if member.status == status:
        return None
    member = member.copy()
    member.status, member.status_changed_at = status, now
    member.blocked_reason = reason if status == BLOCKED else None
    touch(member)
    return Change([member])


def erase(member: Member, now: datetime) -> Change:
    """Erase a member: every personal field goes, the balance is forfeited with an `erase` entry (lots emptied),
    and the member leaves the tier distribution. What stays is pseudonymous: amounts, dates, tier, counters.
    The caller answers a member already erased without calling this (erasure is idempotent)."""
    member = member.copy()
    forfeited, lots_held, pending_held = member.balance + points_pending(member), dict(member.lots), dict(member.pending)
    member.email, member.name, member.phone, member.birthday, member.sub = "", None, None, None, None
    member.marketing_opt_in, member.blocked_reason, member.locale = False, None, None
    member.status, member.status_changed_at, member.erased_at = ERASED, now, now
    member.lots, member.balance, member.reminded_lots = {}, 0, []
    member.pending, member.pending_qualifying = {}, {}
    member.attributes, member.activated = {}, {}  # the business's own values may name the person
    entry = record(member, now, "erase", "erase", -forfeited, lots_consumed=lots_held,
                    pending_consumed=pending_held or None)
    return Change([member], [entry], tier_moves=[(member.member_id, member.tier, None)])


PROFILE_FIELDS = ("email", "name", "phone", "birthday", "marketing_opt_in", "locale")


@dataclass(frozen=True)
class ProfileUpdate:
    """A profile change: the member after it, the names of the fields it changed, and what moves with it."""

    member: Member
    fields: list[str]
    email_before: str | None  # the e-mail whose uniqueness marker moves to member.email; None: no move
    consent_changed: bool  # marketing_opt_in changed: a consent record is kept


def update_profile(member: Member, changes: dict[str, object], now: datetime, *, by_member: bool) -> ProfileUpdate | None:
    """Apply the given fields (None clears name, phone, birthday); None when nothing changes (nothing to write).

    The e-mail is kept lower-case, as enrolled: the same address in another case changes nothing. A member
    sets their birthday once; staff (`by_member` False) may correct or clear it. Blocked members may update.
    """
    wanted = {name: value for name, value in changes.items() if name in PROFILE_FIELDS}
    if isinstance(wanted.get("email"), str):
        wanted["email"] = wanted["email"].strip().lower()
    if "attributes" in changes:  # the business's own facts: pos and admin only, never the member
        if by_member:
            raise errors.Forbidden("attributes are set by the store or the program team, not by the member")
        try:
            wanted["attributes"] = facts.set_attributes(member.attributes, changes["attributes"] or {})
        except ValueError as error:
            raise errors.InvalidAttributes(str(error), max_attributes=facts.MAX_ATTRIBUTES) from None
    changed = [name for name in (*PROFILE_FIELDS, "attributes") if name in wanted and wanted[name] != getattr(member, name)]
    if not changed:
        return None
    if "birthday" in changed and by_member and member.birthday is not None:
        raise errors.BirthdayAlreadySet("the birthday is already set; the store or the program team may correct it",
                                        birthday=member.birthday.isoformat())
    email_before = member.email if "email" in changed else None
    member = member.copy()
    for name in changed:
        setattr(member, name, wanted[name])
    member.profile_updated_at = now
    touch(member)
    return ProfileUpdate(member, changed, email_before, "marketing_opt_in" in changed)

