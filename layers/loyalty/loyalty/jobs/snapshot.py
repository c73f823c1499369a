"""The nightly member-facts snapshot and the RFM boundaries computed from it.

`take()` reads every member once (a paginated read of the whole members table: jobs/snapshot_store.py), computes its
facts now (domain/facts.py, with the boundaries published so far) and the segments it is in (the campaign
condition engine on those facts), hands the rows to the sink page by page, and publishes the snapshot's mark.
`publish_rfm()` runs `rfm_boundaries.sql` on the newest snapshot whose rows are all in the store and publishes
the boundaries the functions cache. The scheduled run does both, in that order: in AWS tonight's rows are still in
Firehose's buffer when the run ends, so the boundaries come from last night's snapshot; a local store takes the
rows at once, so `make snapshot` gets boundaries from the snapshot it has just taken.

While it reads the members, `take()` also announces the personalised offers that started since the previous
snapshot (messages/offer_announcements.py): one `OfferAvailable` event per member the offer is offered to, published
in batches before tonight's mark. A run that fails before its mark is published leaves the previous one in place, so
the next run announces the same offers again under the same event ids (the sender sends each once); a run that
published its mark has told them, and the next run's window starts at that mark.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty.clock import Clock
from loyalty.core.programs import Programs
from loyalty.domain.facts import RfmBoundaries, condition_facts, member_facts, twelve_months
from loyalty.domain.ledger import settle
from loyalty.domain.segments import Segment, members_segments
from loyalty.insights.facts_snapshot import SnapshotMark, latest_ready, row_of, segment_tag
from loyalty.insights.published import Published
from loyalty.insights.snapshot_queries import Waiter, rfm_boundaries
from loyalty.insights.snapshot_sinks import SnapshotSink
from loyalty.jobs.snapshot_store import MemberPages
from loyalty.messages.offer_announcements import Announcer, starting
from loyalty.program import Program

PAGE_ROWS = 5000  # rows handed to the sink at a time: memory stays bounded whatever the membership


@dataclass
class FactsSnapshot:
    members: MemberPages
    segments: Callable[[], Sequence[Segment]]
    sink: SnapshotSink
    published: Published
    clock: Clock
    programs: Programs
    engine: Any  # insights.engines.Engine: where rfm_boundaries.sql runs
    waiter: Waiter = field(default_factory=Waiter)
    scan_segments: int = 1
    page_rows: int = PAGE_ROWS
    # The campaigns active at a time, with their activation (campaigns.store's StoredCampaign), and where the
    # OfferAvailable events go (the platform's publisher); without them no offer is announced.
    campaigns: Callable[[datetime], Sequence[Any]] | None = None
    publish: Callable[[list], None] | None = None
    publish_workers: int = 1  # OfferAvailable batches published at once
    announced: int = 0  # OfferAvailable events published by the last `take()`

    def run(self) -> dict[str, Any]:
        """The nightly run: tonight's snapshot, then the boundaries from the newest complete one (tonight's when the
        store has its rows at once, else last night's)."""
        mark = self.take()
        boundaries = self.publish_rfm()
        return {"snapshot_day": mark.snapshot_day, "members": mark.members,
                "rfm_as_of": boundaries.as_of.isoformat() if boundaries else None, "offers_announced": self.announced}

    def take(self) -> SnapshotMark:
        now = self.clock.now()
        program = self.programs.current()
        segments = list(self.segments())
        tags = {segment.segment_id: segment_tag(segment) for segment in segments}
        boundaries = self.published.rfm()
        day = SnapshotMark.taken(now, 0, (), now, self.sink.delivery_delay).snapshot_day
        announcer = self._announcer(now)
        try:
            count = self._rows(day, now, program, segments, tags, boundaries, announcer)
        except BaseException:
            if announcer is not None:
                announcer.close()
            raise
        mark = SnapshotMark.taken(now, count, list(tags.values()), self.clock.now(), self.sink.delivery_delay)
        self.published.add_snapshot(mark, self.clock.now())
        return mark

    def _rows(self, day: str, now: datetime, program: Program, segments: list[Segment], tags: dict[str, str],
              boundaries: RfmBoundaries | None, announcer: Announcer | None) -> int:
        """Every member's row to the sink, page by page (and its offers to the announcer): how many rows."""
        rows: list[dict[str, Any]] = []
        count = 0
        for part in range(self.scan_segments):
            for member in self.members.all(part, self.scan_segments):
                if member.erased_at is not None:  # nothing to segment: an erased member is no longer a member
                    continue
                settled = settle(member, program, now)
                member = settled.member if settled else member
                facts = member_facts(member, now, program.time_zone, boundaries)
                seen = condition_facts(facts)
                inside = members_segments(segments, seen)
                if announcer is not None:
                    announcer.member(member, seen, inside, now)
                rows.append(row_of(member.member_id, member.status, facts, twelve_months(member, now, program.time_zone),
                                   [tags[segment_id] for segment_id in inside], now))
                if len(rows) >= self.page_rows:
                    self.sink.write(day, rows)
                    count, rows = count + len(rows), []
        if rows:
            self.sink.write(day, rows)
            count += len(rows)
        if announcer is not None:
            announcer.flush()
            self.announced = announcer.announced
        return count

    def _announcer(self, now: datetime) -> Announcer | None:
        """The offers started since the previous snapshot (the newest mark before `now`), to announce on this run."""
        self.announced = 0
        if self.campaigns is None or self.publish is None:
            return None
        previous = max((mark.snapshot_at for mark in self.published.snapshots() if mark.snapshot_at < now), default=None)
        offers = starting(self.campaigns(now), previous, now)
        return Announcer(self.publish, offers, workers=self.publish_workers) if offers else None

    def publish_rfm(self) -> RfmBoundaries | None:
        """Boundaries from the newest complete snapshot, published; None when there is none or nobody bought."""
        mark = latest_ready(self.published.snapshots(), self.clock.now())
        if mark is None:
            return None
        boundaries = rfm_boundaries(self.engine, mark, self.waiter)
        if boundaries is not None:
            self.published.put_rfm(boundaries, self.clock.now())
        return boundaries
