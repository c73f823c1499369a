"""The queries on the member-facts snapshot: the RFM boundaries (for the nightly job) and a segment's size (for
`GET /v1/segments/{segment_id}/size`), each one SQL file in `sql/` (Athena's dialect, translated for DuckDB like
the insights), run on the newest snapshot whose rows are all in the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty.clock import Clock
from loyalty.domain import errors
from loyalty.domain.facts import RfmBoundaries
from loyalty.insights.definitions import render
from loyalty.insights.engines import FAILED, RUNNING, Engine, Outcome
from loyalty.insights.facts_snapshot import SnapshotMark, latest_ready, segment_tag, stamp

SNAPSHOT_QUERIES = ("rfm_boundaries", "segment_size")  # the SQL files that read `member_facts`
SAMPLE_SIZE = 20
MEASURES = ("recency", "frequency", "monetary")


class NoSnapshot(errors.DomainError):
    """No member-facts snapshot is in the store yet (the nightly job has not run, or its rows are still being
    delivered): nothing to count until it is. Not a retry of the same request soon: the next snapshot is tonight's
    (or `make snapshot`'s)."""

    status, code = 409, "NO_SNAPSHOT"


class SegmentNotInSnapshot(errors.DomainError):
    """The segment was defined or changed after the newest snapshot was taken: its size comes with the next one."""

    status, code = 409, "SEGMENT_NOT_IN_SNAPSHOT"


class SnapshotQueryFailed(errors.DomainError):
    status, code = 502, "ANALYTICS_QUERY_FAILED"


@dataclass
class Waiter:
    """Runs a query to its end: polls an engine that answers later every `interval` seconds, at most `limit`
    seconds in all (`sleep` injected: tests do not sleep)."""

    interval: float = 1.0
    limit: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def finish(self, engine: Engine, sql: str) -> Outcome:
        outcome = engine.start(sql)
        waited = 0.0
        while outcome.status == RUNNING and waited < self.limit:
            self.sleep(self.interval)
            waited += self.interval
            outcome = engine.poll(outcome.execution_id or "")
        return outcome


def _snapshot_values(mark: SnapshotMark) -> dict[str, Any]:
    return {"snapshot_day": mark.snapshot_day, "snapshot_at": stamp(mark.snapshot_at)}


def boundaries_of(rows: list[dict[str, Any]], as_of: datetime) -> RfmBoundaries | None:
    """The SQL's rows (measure, cut 1-4, value) as boundaries; None when no member has bought."""
    cuts: dict[str, dict[int, int]] = {measure: {} for measure in MEASURES}
    for row in rows:
        cuts[str(row["measure"])][int(row["cut"])] = int(row["value"])
    if any(sorted(cuts[measure]) != [1, 2, 3, 4] for measure in MEASURES):
        return None
    recency, frequency, monetary = (tuple(cuts[measure][k] for k in (1, 2, 3, 4)) for measure in MEASURES)
    return RfmBoundaries(recency, frequency, monetary, as_of)  # type: ignore[arg-type]


def rfm_boundaries(engine: Engine, mark: SnapshotMark, waiter: Waiter) -> RfmBoundaries | None:
    outcome = waiter.finish(engine, render("rfm_boundaries", _snapshot_values(mark)))
    if outcome.status != "succeeded":
        raise SnapshotQueryFailed(f"the RFM boundaries could not be computed: {outcome.error or 'the query ran too long'}")
    return boundaries_of(outcome.rows or [], mark.snapshot_at)


@dataclass(frozen=True)
class SegmentSize:
    segment_id: str
    members: int
    sample: list[str]
    as_of: datetime


@dataclass
class SegmentSizes:
    """A segment's size on the newest complete snapshot. Given the segments' store (`get(segment_id)`), the
    published snapshot marks, the engine, the clock and the waiter."""

    segments: Any  # segments.store.SegmentStore
    marks: Callable[[], list[SnapshotMark]]
    engine: Engine
    clock: Clock
    waiter: Waiter = field(default_factory=Waiter)

    def size(self, segment_id: str) -> SegmentSize:
        segment = self.segments.get(segment_id)
        if segment is None:
            raise errors.SegmentNotFound(f"no segment {segment_id}")
        mark = latest_ready(self.marks(), self.clock.now())
        if mark is None:
            raise NoSnapshot("no member-facts snapshot yet: sizes are counted on the nightly snapshot "
                             "(locally: make snapshot)")
        tag = segment_tag(segment)
        if tag not in mark.segments:
            raise SegmentNotInSnapshot(
                f"segment {segment_id} was defined or changed after the snapshot of {stamp(mark.snapshot_at)}: "
                "its size comes with the next snapshot (nightly; locally: make snapshot)")
        outcome = self.waiter.finish(self.engine, render("segment_size", {**_snapshot_values(mark), "segment_tag": tag}))
        if outcome.status == FAILED or outcome.rows is None:
            raise SnapshotQueryFailed(f"the size could not be counted: {outcome.error or 'the query ran too long'}")
        count = next((int(row["members"] or 0) for row in outcome.rows if row["kind"] == "count"), 0)
        sample = sorted(str(row["member_id"]) for row in outcome.rows if row["kind"] == "sample")[:SAMPLE_SIZE]
        return SegmentSize(segment_id, count, sample, mark.snapshot_at)
