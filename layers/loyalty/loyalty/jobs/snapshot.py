"""The nightly member-facts snapshot and the RFM boundaries computed from it.

`take()` reads every member once (a paginated read of the whole members table: jobs/snapshot_store.py), computes its
facts now (domain/facts.py, with the boundaries published so far) and the segments it is in (the campaign
condition engine on those facts), hands the rows to the sink page by page, and publishes the snapshot's mark.
`publish_rfm()` runs `rfm_boundaries.sql` on the newest snapshot whose rows are all in the store and publishes
the boundaries the functions cache. The scheduled run does both, in that order: in AWS tonight's rows are still in
Firehose's buffer when the run ends, so the boundaries come from last night's snapshot; a local store takes the
rows at once, so `make snapshot` gets boundaries from the snapshot it has just taken.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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

    def run(self) -> dict[str, Any]:
        """The nightly run: tonight's snapshot, then the boundaries from the newest complete one (tonight's when the
        store has its rows at once, else last night's)."""
        mark = self.take()
        boundaries = self.publish_rfm()
        return {"snapshot_day": mark.snapshot_day, "members": mark.members,
                "rfm_as_of": boundaries.as_of.isoformat() if boundaries else None}

    def take(self) -> SnapshotMark:
        now = self.clock.now()
        program = self.programs.current()
        segments = list(self.segments())
        tags = {segment.segment_id: segment_tag(segment) for segment in segments}
        boundaries = self.published.rfm()
        day = SnapshotMark.taken(now, 0, (), now, self.sink.delivery_delay).snapshot_day
        rows: list[dict[str, Any]] = []
        count = 0
        for part in range(self.scan_segments):
            for member in self.members.all(part, self.scan_segments):
                if member.erased_at is not None:  # nothing to segment: an erased member is no longer a member
                    continue
                settled = settle(member, program, now)
                member = settled.member if settled else member
                facts = member_facts(member, now, program.time_zone, boundaries)
                inside = members_segments(segments, condition_facts(facts))
                rows.append(row_of(member.member_id, member.status, facts, twelve_months(member, now, program.time_zone),
                                   [tags[segment_id] for segment_id in inside], now))
                if len(rows) >= self.page_rows:
                    self.sink.write(day, rows)
                    count, rows = count + len(rows), []
        if rows:
            self.sink.write(day, rows)
            count += len(rows)
        mark = SnapshotMark.taken(now, count, list(tags.values()), self.clock.now(), self.sink.delivery_delay)
        self.published.add_snapshot(mark, self.clock.now())
        return mark

    def publish_rfm(self) -> RfmBoundaries | None:
        """Boundaries from the newest complete snapshot, published; None when there is none or nobody bought."""
        mark = latest_ready(self.published.snapshots(), self.clock.now())
        if mark is None:
            return None
        boundaries = rfm_boundaries(self.engine, mark, self.waiter)
        if boundaries is not None:
            self.published.put_rfm(boundaries, self.clock.now())
        return boundaries
