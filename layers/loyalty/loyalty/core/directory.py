"""The member a path names: an id, or "me", the member enrolled with a member token's subject."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from loyalty.domain import errors
from loyalty.domain.access import Caller
from loyalty.domain.model import ERASED, Member
from loyalty.store.ledger import Store


class SubjectDirectory:
    """Token subject -> member id, as the SUB# markers said, for the life of a warm instance (bounded, least
    recently used out first). A subject's member only changes through an erasure (the member loses its subject)
    and a new enrolment, so an entry is checked against the member it names on every use."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, str] = OrderedDict()

    def get(self, sub: str) -> str | None:
        member_id = self._ids.get(sub)
        if member_id is not None:
            self._ids.move_to_end(sub)
        return member_id

    def remember(self, sub: str, member_id: str) -> None:
        self._ids[sub] = member_id
        self._ids.move_to_end(sub)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def forget(self, sub: str) -> None:
        self._ids.pop(sub, None)


@dataclass
class Directory:
    """Resolves the member a path names, for every function that serves member paths."""

    store: Store
    subjects: SubjectDirectory = field(default_factory=SubjectDirectory)  # "me" -> member id, per warm instance

    def target(self, caller: Caller, member_id: str) -> str:
        """The member id a path names: "me" is the member enrolled with a member token's subject, found through
        its SUB# marker (one read), which erasure deletes: an erased member is no one's "me"."""
        if member_id != "me" or not caller.names_self:
            return caller.target(member_id)
        found = self.store.member_id_for_sub(str(caller.sub))
        if found is None:
            raise errors.MemberNotFound("no member is enrolled with this account")
        return found

    def member(self, caller: Caller, member_id: str) -> Member:
        """The member a path names: one read. For "me" too once this instance has seen the token's subject: the
        member id it resolved to is remembered, and the member read by it is taken only while it is live and
        still holds that subject (an erased member holds none); otherwise the SUB# marker is read again (two
        reads), so an erasure followed by a new enrolment with the same subject finds the new member."""
        if member_id == "me" and caller.names_self:
            sub = str(caller.sub)
            remembered = self.subjects.get(sub)
            if remembered is not None:
                member = self.store.get_member(remembered)
                if member is not None and member.status != ERASED and member.sub == sub:
                    return caller.ensure_may_access(member, remembered)
                self.subjects.forget(sub)
            member_id = self.target(caller, member_id)
            member = caller.ensure_may_access(self.store.get_member(member_id), member_id)
            if member.status != ERASED and member.sub == sub:
                self.subjects.remember(sub, member_id)
            return member
        member_id = self.target(caller, member_id)
        return caller.ensure_may_access(self.store.get_member(member_id), member_id)
