"""The nightly snapshot job with its collaborators given (no function, no tables): members from a list, the store a
DuckDB folder whose rows count as delivered only after Firehose's buffer time, the published documents in memory.
As in AWS, the first night publishes no boundaries (its rows are still in the buffer) and the second night publishes
last night's; a snapshot's rows are handed over in pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.domain.model import Member
from loyalty.insights.duckdb_engine import DuckDbEngine
from loyalty.insights.snapshot_queries import Waiter
from loyalty.insights.snapshot_sinks import DuckDbSink
from loyalty.jobs.snapshot import FactsSnapshot
from tests.conftest import PROGRAM

NIGHT = datetime(2026, 12, 7, 0, 45, tzinfo=timezone.utc)


class Members:
    def __init__(self, members: list[Member]) -> None:
        self.members = members

    def all(self, segment: int = 0, total_segments: int = 1):
        return [member for index, member in enumerate(self.members) if index % total_segments == segment]


class BufferedSink(DuckDbSink):
    delivery_delay = timedelta(minutes=6)

    def __init__(self, root) -> None:
        super().__init__(root)
        self.pages: list[int] = []

    def write(self, snapshot_day, rows) -> None:
        self.pages.append(len(rows))
        super().write(snapshot_day, rows)


class Published:
    def __init__(self) -> None:
        self.marks, self.boundaries = [], None

    def snapshots(self):
        return list(self.marks)

    def add_snapshot(self, mark, now) -> None:
        self.marks = sorted([*self.marks, mark], key=lambda m: m.snapshot_at)[-2:]

    def rfm(self):
        return self.boundaries

    def put_rfm(self, boundaries, now) -> None:
        self.boundaries = boundaries


def _member(n: int) -> Member:
    bought = NIGHT - timedelta(days=n + 1)
    return Member(member_id=f"m{n:02d}", email="", enrolled_at=NIGHT - timedelta(days=200), channel="app", tier="Bronze",
                  referral_code="R", last_purchase_at=bought, purchases=n + 1, spend_minor=1000 * (n + 1),
                  months={f"{bought.year:04d}-{bought.month:02d}": [n + 1, 1000 * (n + 1)]})


def test_the_first_night_publishes_no_boundaries_and_the_second_publishes_the_first_night_s(tmp_path):
    clock = FixedClock(NIGHT)
    published, sink = Published(), BufferedSink(tmp_path)
    job = FactsSnapshot(Members([_member(n) for n in range(12)]), lambda: [], sink, published, clock,
                        Programs.fixed(PROGRAM, clock), DuckDbEngine(tmp_path), Waiter(sleep=lambda s: None),
                        scan_segments=2, page_rows=5)
    first = job.run()
    assert (first["members"], first["rfm_as_of"], published.boundaries) == (12, None, None)
    assert sink.pages == [5, 5, 2]  # twelve members over two segments, handed over in pages of at most five
    later = FixedClock(NIGHT + timedelta(days=1))
    job.clock, job.programs = later, Programs.fixed(PROGRAM, later)
    second = job.run()
    assert second["rfm_as_of"] == NIGHT.isoformat()  # last night's snapshot: tonight's is in the buffer
    # twelve buyers, purchases 1..12: nearest-rank cuts at positions 3, 5, 8, 10
    assert published.boundaries.frequency == (3, 5, 8, 10)
    assert published.boundaries.recency == (3, 5, 8, 10)  # days since the last purchase, 1..12
