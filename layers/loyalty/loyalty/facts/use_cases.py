"""The facts use case: a member's facts now, the segments it is in and, for admin, its holdout assignments.

One read of the member (the path's member, "me" included, as the member view reads it); the facts are computed
from the member item (domain/facts.py), never by reading the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from loyalty.clock import Clock
from loyalty.core.directory import Directory
from loyalty.domain.access import ADMIN_SCOPE, Caller
from loyalty.domain.facts import RfmBoundaries, condition_facts, member_facts
from loyalty.domain.holdout import held_out
from loyalty.domain.ledger import settle
from loyalty.domain.segments import Segment, members_segments
from loyalty.core.programs import Programs
from loyalty.program import Program


@dataclass(frozen=True)
class HoldoutCampaign:
    """An active campaign with a holdout: what the admin's view of the facts needs of it."""

    campaign_id: str
    holdout_percent: int


def no_boundaries() -> RfmBoundaries | None:
    return None


def no_holdouts() -> Sequence[HoldoutCampaign]:
    return ()


def no_segments() -> Sequence[Segment]:
    return ()


@dataclass(frozen=True)
class MemberFacts:
    member_id: str
    as_of: datetime
    facts: dict[str, object]
    segments: list[str]
    held_out: dict[str, bool] | None  # admin only


@dataclass
class Facts:
    directory: Directory
    clock: Clock
    programs: Programs  # the program's versions, cached
    rfm: Callable[[], RfmBoundaries | None] = no_boundaries  # the published boundaries (cached); None: not yet
    holdouts: Callable[[], Sequence[HoldoutCampaign]] = no_holdouts  # the active campaigns with a holdout
    segments: Callable[[], Sequence[Segment]] = no_segments  # every segment (a cache of them)

    @property
    def program(self) -> Program:
        """The program version in force now (`programs` caches the versions at most 60 s)."""
        return self.programs.current()

    def of(self, caller: Caller, member_id: str) -> MemberFacts:
        member = self.directory.member(caller, member_id)
        now = self.clock.now()
        settled = settle(member, self.program, now)
        member = settled.member if settled else member
        facts = member_facts(member, now, self.program.time_zone, self.rfm())
        assignments = None
        if ADMIN_SCOPE in caller.scopes:  # holdout membership is never shown to a member or a till
            assignments = {campaign.campaign_id: held_out(campaign.campaign_id, member.member_id, campaign.holdout_percent)
                           for campaign in self.holdouts()}
        in_segments = sorted(members_segments(self.segments(), condition_facts(facts)))
        return MemberFacts(member.member_id, now, facts, in_segments, assignments)
