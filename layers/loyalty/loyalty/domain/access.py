"""Who may act on which member."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.domain import errors
from loyalty.domain.model import Member, member_id_for_sub

MEMBER_SCOPE = "loyalty/member"
POS_SCOPE = "loyalty/pos"
ADMIN_SCOPE = "loyalty/admin"
STAFF_SCOPES = frozenset({POS_SCOPE, ADMIN_SCOPE})


@dataclass(frozen=True)
class Caller:
    sub: str | None
    scopes: frozenset[str]
    client_id: str | None = None

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

    def owns(self, member: Member) -> bool:
        """A member token owns the member enrolled with its subject; absent subjects never match."""
        return bool(self.sub) and member.sub == self.sub

    def target(self, member_id: str) -> str:
        """The member id a path names; "me" is the member enrolled with this token's subject."""
        if member_id != "me":
            return member_id
        if not (MEMBER_SCOPE in self.scopes and self.sub):
            raise errors.MemberNotFound('"me" names a member only with a member token')
        return member_id_for_sub(self.sub)

    def ensure_may_access(self, member: Member | None, member_id: str) -> Member:
        """Staff reach every member; a member only their own. Others' members are reported as unknown."""
        if member is None or not (self.is_staff or self.owns(member)):
            raise errors.MemberNotFound(f"no member {member_id}")
        return member
