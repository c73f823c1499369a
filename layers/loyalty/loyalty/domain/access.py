"""Who may act on which member."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.domain import errors
from loyalty.domain.model import ERASED, Member

MEMBER_SCOPE = "loyalty/member"
POS_SCOPE = "loyalty/pos"
ADMIN_SCOPE = "loyalty/admin"
STAFF_SCOPES = frozenset({POS_SCOPE, ADMIN_SCOPE})


@dataclass(frozen=True)
class Caller:
    sub: str | None
    scopes: frozenset[str]
    client_id: str | None = None
    verified_email: str | None = None  # the token's `email` claim, only when its `email_verified` claim is true

    @property
    def is_staff(self) -> bool:
        return bool(self.scopes & STAFF_SCOPES)

    @property
    def is_member(self) -> bool:
        return MEMBER_SCOPE in self.scopes and not self.is_staff

    @property
    def actor(self) -> str:
        """Who acted, as recorded on the ledger: the token's subject, else its client id."""
        if not (self.sub or self.client_id):
            raise errors.Forbidden("this needs a token that names its subject (sub) or client (client_id)")
        return str(self.sub or self.client_id)

    def require(self, *allowed: str) -> None:
        """Refuse a caller without one of the scopes, and a member token without a subject: it is nobody."""
        if not self.scopes & set(allowed):
            raise errors.Forbidden(f"this needs one of the scopes {', '.join(sorted(allowed))}")
        if self.is_member and not self.sub:
            raise errors.Forbidden("a member token must name its subject (sub)")

    def ensure_may_use_email(self, email: str) -> None:
        """A member token may enroll with (or change to) only the e-mail its token proves; staff, any e-mail.
        E-mails compare case-insensitively, as their uniqueness does."""
        if self.is_member and (self.verified_email is None or self.verified_email.casefold() != email.casefold()):
            raise errors.EmailNotVerified(
                "a member token may use only the e-mail it proves (its email claim, with email_verified true)")

    def owns(self, member: Member) -> bool:
        """A member token owns the member enrolled with its subject; absent subjects never match."""
        return bool(self.sub) and member.sub == self.sub

    @property
    def names_self(self) -> bool:
        """A member token, whose "me" is the member enrolled with its subject."""
        return MEMBER_SCOPE in self.scopes and bool(self.sub)

    def target(self, member_id: str) -> str:
        """The member id a path names, for routes staff call; a member token's "me" needs a read (Loyalty.target)."""
        if member_id != "me":
            return member_id
        if not self.names_self or self.is_staff:  # staff routes: "me" is no member
            raise errors.MemberNotFound('"me" names a member only with a member token')
        # Member ids are random (nothing derived from the subject survives an erasure): the SUB# marker says which.
        raise LookupError('a member token\'s "me" is resolved by Loyalty.target, which reads its SUB# marker')

    def ensure_may_access(self, member: Member | None, member_id: str) -> Member:
        """Staff reach every member; a member only their own. Others' members, and erased ones, are unknown."""
        if member is None or member.status == ERASED or not (self.is_staff or self.owns(member)):
            raise errors.MemberNotFound(f"no member {member_id}")
        return member
