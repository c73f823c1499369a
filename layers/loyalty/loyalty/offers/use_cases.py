"""The offers' use cases: a member's personalised offers now, and the activation of one.

The list is one BatchGetItem (the member with today's limit counters of the active campaigns; "me" adds the
SUB# marker's read once per warm instance): at most two round trips. An activation is one read and one
conditional write of the member item (its version): two activations at once write once, the other rereads and
answers the same `activated_at`; an activation racing an earn makes one of them reread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from loyalty.clock import Clock
from loyalty.core.directory import Directory
from loyalty.core.ledger import commit
from loyalty.core.retry import RetryPolicy
from loyalty.domain import offers
from loyalty.domain.access import Caller
from loyalty.domain.campaigns.document import Campaign
from loyalty.domain.campaigns.engine import counter_keys
from loyalty.domain.campaigns.shards import stored_keys, totals
from loyalty.domain.ledger import Change, settle
from loyalty.domain.facts import RfmBoundaries
from loyalty.domain.segments import Segment
from loyalty.earning.store import EarnStore
from loyalty.core.programs import Programs
from loyalty.program import Program
from loyalty.store.ledger import Store


def no_segments() -> list[Segment]:
    return []


def no_boundaries() -> RfmBoundaries | None:
    return None


@dataclass
class Offers:
    store: Store
    earning: EarnStore
    directory: Directory
    clock: Clock
    programs: Programs  # the program's versions, cached
    campaigns: Callable[[], list[Campaign]]  # the active campaigns (the earn function's cache)
    segments: Callable[[], list[Segment]] = no_segments  # the segments (a cache)
    rfm: Callable[[], RfmBoundaries | None] = no_boundaries  # the published RFM boundaries (a cache)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def program(self) -> Program:
        """The program version in force now (`programs` caches the versions at most 60 s)."""
        return self.programs.current()

    def list(self, caller: Caller, member_id: str) -> list[offers.Offer]:
        member_id = self.directory.target(caller, member_id)
        now = self.clock.now()
        active = [campaign for campaign in self.campaigns() if offers.running(campaign, now)]
        wanted = stored_keys(counter_keys(active, now, time_zone=self.program.time_zone))
        member, _, read = self.earning.get_for_earn(member_id, [], wanted)
        member = caller.ensure_may_access(member, member_id)
        settled = settle(member, self.program, now)
        member = settled.member if settled else member
        segments = self.segments() if any(campaign.audience for campaign in active) else []
        return offers.offers(member, active, segments, totals(read), now, self.program.time_zone,
                             self.rfm() if active else None)

    def activate(self, caller: Caller, member_id: str, campaign_id: str) -> datetime:
        """When the member activated the offer (now, or the first activation's time: idempotent)."""
        member_id = self.directory.target(caller, member_id)

        def attempt() -> datetime:
            member = caller.ensure_may_access(self.store.get_member(member_id), member_id)
            active = self.campaigns()
            segments = self.segments() if any(campaign.audience for campaign in active) else []
            updated = offers.activate(member, campaign_id, active, segments, self.clock.now(), self.program.time_zone,
                                      self.rfm() if active else None)
            if updated is None:
                return member.activated[campaign_id]
            commit(self.store, self.program, Change([updated]), {member.member_id: member.version})
            return updated.activated[campaign_id]

        return self.retry.run(attempt)
