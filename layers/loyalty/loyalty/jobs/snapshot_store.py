"""The member-facts snapshot's one read: every member item, page after page (a parallel Scan of the members
table, member items only). The only Scan in the package, run by the nightly snapshot job alone (its function is
the only one granted `dynamodb:Scan`, on the members table): never on a request path.

Its cost grows with the table, once a night: a Scan reads every item of a segment, 4 KB per read unit, eventually
consistent at half a unit (members at about 1 KB and their two or three small markers: about 0.15 read units a
member, 150,000 for a million members, about 0.04 USD on demand)."""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.exceptions import ScanError

from loyalty.domain.model import Member
from loyalty.store import keys
from loyalty.store.models import MemberModel, bind_members
from loyalty.store.records import member_from_record
from loyalty.store.transaction import RequestHook, busy, hook_requests

PAGE_ITEMS = 1000


class MemberPages:
    def __init__(self, members: type[MemberModel]) -> None:
        self.members = members

    @classmethod
    def from_table(cls, members_table: str, region: str | None = None, endpoint_url: str | None = None) -> MemberPages:
        return cls(bind_members(members_table, region, endpoint_url))

    def on_request(self, hook: RequestHook) -> None:
        hook_requests([self.members], hook)

    def all(self, segment: int = 0, total_segments: int = 1) -> Iterator[Member]:
        """Every member of one segment of the table (of `total_segments`), paginated by PAGE_ITEMS."""
        model = self.members
        try:
            for record in model.scan(model.pk.startswith(keys.member_pk("")), segment=segment,
                                     total_segments=total_segments, page_size=PAGE_ITEMS):
                yield member_from_record(record)
        except ScanError as error:
            raise busy(error) from error
