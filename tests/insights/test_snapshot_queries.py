"""The snapshot's queries on their engines: rfm_boundaries.sql on DuckDB against an independent nearest-rank
computation for generated populations; a member's rfm from its facts and those boundaries; the size on Athena
(botocore's Stubber: start, poll, read; a failed query); the Firehose sink's retries of refused rows."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest
from botocore.stub import ANY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.clock import FixedClock
from loyalty.domain.facts import RfmBoundaries, member_facts
from loyalty.domain.model import Member
from loyalty.domain.segments import parse_segment
from loyalty.insights.athena import AthenaEngine
from loyalty.insights.duckdb_engine import DuckDbEngine
from loyalty.insights.facts_snapshot import SnapshotMark, row_of, segment_tag
from loyalty.insights.snapshot_queries import (
    NoSnapshot, SegmentNotInSnapshot, SegmentSizes, SnapshotQueryFailed, Waiter, rfm_boundaries,
)
from loyalty.insights.snapshot_sinks import DuckDbSink, FirehoseSink, SnapshotNotDelivered

TAKEN = datetime(2026, 12, 7, 0, 45, tzinfo=timezone.utc)
MARK = SnapshotMark.taken(TAKEN, 0, (), TAKEN, timedelta(0))
NO_WAIT = Waiter(interval=1.0, limit=5.0, sleep=lambda seconds: None)


def _nearest_rank(values: list[int]) -> tuple[int, ...]:
    ordered = sorted(values)
    return tuple(ordered[math.ceil(Fraction(k * len(ordered), 5)) - 1] for k in (1, 2, 3, 4))


def _row(member_id: str, recency: int | None, frequency: int, monetary: int, segments=(), at: datetime = TAKEN) -> dict:
    facts = {"tier": "Bronze", "channel": "app", "enrolled_days": 10, "marketing_opt_in": False,
             "purchase_count": frequency, "spend_minor": monetary, "days_since_last_purchase": recency,
             "categories_90d": [], "attributes": {}, "rfm": None, "last_purchase_at": None}
    return row_of(member_id, "active", facts, (frequency, monetary), list(segments), at)


population = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 400)), st.integers(0, 60), st.integers(0, 10**6)),
                      min_size=0, max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=population)
def test_quintile_boundaries_of_a_generated_population_are_the_nearest_ranks(members, tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    rows = [_row(f"m{n:03d}", *member) for n, member in enumerate(members)]
    DuckDbSink(root).write(MARK.snapshot_day, rows)
    # an earlier run of the same day, which must not count
    DuckDbSink(root).write(MARK.snapshot_day, [_row("m999", 0, 99, 99, at=TAKEN - timedelta(hours=1))])
    found = rfm_boundaries(DuckDbEngine(root), MARK, NO_WAIT)
    buyers = [member for member in members if member[0] is not None]
    if not buyers:
        assert found is None
        return
    assert found == RfmBoundaries(_nearest_rank([b[0] for b in buyers]), _nearest_rank([b[1] for b in buyers]),
                                  _nearest_rank([b[2] for b in buyers]), TAKEN)


def test_a_member_s_rfm_is_its_facts_against_the_boundaries():
    now = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
    boundaries = RfmBoundaries((3, 10, 30, 90), (1, 2, 4, 8), (1000, 5000, 9000, 20000), now)
    member = Member(member_id="m1", email="", enrolled_at=now - timedelta(days=400), channel="app", tier="Bronze",
                    referral_code="R", last_purchase_at=now - timedelta(days=12),
                    months={"2026-12": [2, 4000], "2026-06": [3, 6000], "2025-11": [9, 99999]})  # 2025-11: outside
    rfm = member_facts(member, now, "UTC", boundaries)["rfm"]
    # recency 12 days: above 3 and 10 -> quintile 3 -> r = 6 - 3; 5 purchases: above 1, 2, 4 -> 4; 10,000: above 3 cuts
    assert rfm == {"r": 3, "f": 4, "m": 4}
    assert member_facts(member, now, "UTC", None)["rfm"] is None


# ------------------------------------------------------------------ the size on Athena

SEGMENT = parse_segment({"segment_id": "vip", "name": "VIP",
                         "conditions": {"all": [{"fact": "member.spend_minor", "op": "gte", "value": 1}]}})
EXECUTION = "0b3f2c1e-0000-4000-8000-000000000002"


class Segments:
    def __init__(self, *segments):
        self.segments = {segment.segment_id: segment for segment in segments}

    def get(self, segment_id):
        return self.segments.get(segment_id)


def _state(state: str, reason: str | None = None) -> dict:
    return {"QueryExecution": {"QueryExecutionId": EXECUTION, "Statistics": {"DataScannedInBytes": 10},
                               "Status": {"State": state, **({"StateChangeReason": reason} if reason else {})}}}


def _results(rows: list[tuple[str, str | None, str | None]]) -> dict:
    columns = [{"Name": "kind", "Type": "varchar"}, {"Name": "members", "Type": "bigint"},
               {"Name": "member_id", "Type": "varchar"}]
    header = {"Data": [{"VarCharValue": "kind"}, {"VarCharValue": "members"}, {"VarCharValue": "member_id"}]}
    data = [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in rows]
    return {"ResultSet": {"Rows": [header, *data], "ResultSetMetadata": {"ColumnInfo": columns}}}


def _sizes(client, marks, sleeps: list[float]) -> SegmentSizes:
    return SegmentSizes(Segments(SEGMENT), lambda: marks, AthenaEngine(client, "wg", "db"),
                        FixedClock(TAKEN + timedelta(hours=8)), Waiter(1.0, 5.0, sleeps.append))


def test_the_size_runs_on_athena_polling_until_it_answers(athena):
    client, stubber = athena
    mark = SnapshotMark.taken(TAKEN, 3, [segment_tag(SEGMENT)], TAKEN, timedelta(minutes=6))
    stubber.add_response("start_query_execution", {"QueryExecutionId": EXECUTION},
                         {"QueryString": ANY, "WorkGroup": "wg", "QueryExecutionContext": {"Database": "db"}})
    stubber.add_response("get_query_execution", _state("RUNNING"), {"QueryExecutionId": EXECUTION})
    stubber.add_response("get_query_execution", _state("SUCCEEDED"), {"QueryExecutionId": EXECUTION})
    stubber.add_response("get_query_results", _results([("count", "2", None), ("sample", None, "m2"), ("sample", None, "m1")]),
                         {"QueryExecutionId": EXECUTION, "MaxResults": 1000})
    sleeps: list[float] = []
    size = _sizes(client, [mark], sleeps).size("vip")
    assert (size.members, size.sample, size.as_of, sleeps) == (2, ["m1", "m2"], TAKEN, [1.0, 1.0])


def test_a_failed_athena_count_is_an_error_that_says_why(athena):
    client, stubber = athena
    mark = SnapshotMark.taken(TAKEN, 3, [segment_tag(SEGMENT)], TAKEN, timedelta(minutes=6))
    stubber.add_response("start_query_execution", {"QueryExecutionId": EXECUTION}, None)
    stubber.add_response("get_query_execution", _state("FAILED", "Query exhausted resources"), None)
    with pytest.raises(SnapshotQueryFailed, match="exhausted"):
        _sizes(client, [mark], []).size("vip")


def test_the_size_counts_only_a_complete_snapshot_that_knows_the_segment_s_version():
    now = TAKEN + timedelta(minutes=3)
    delivering = SnapshotMark.taken(TAKEN, 3, [segment_tag(SEGMENT)], TAKEN, timedelta(minutes=6))  # ready at +6 min
    sizes = SegmentSizes(Segments(SEGMENT), lambda: [delivering], None, FixedClock(now), NO_WAIT)  # type: ignore[arg-type]
    with pytest.raises(NoSnapshot):
        sizes.size("vip")
    other = SnapshotMark.taken(TAKEN - timedelta(days=1), 3, ["vip:000000000000"], TAKEN - timedelta(days=1), timedelta(0))
    sizes = SegmentSizes(Segments(SEGMENT), lambda: [other, delivering], None, FixedClock(now), NO_WAIT)  # type: ignore[arg-type]
    with pytest.raises(SegmentNotInSnapshot):
        sizes.size("vip")


# ------------------------------------------------------------------ the Firehose sink


class Firehose:
    """put_record_batch refusing the first `refuse` records of each of the first `rounds` calls."""

    def __init__(self, refuse: int, rounds: int) -> None:
        self.refuse, self.rounds, self.calls, self.delivered = refuse, rounds, 0, []

    def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803 - boto3's names
        self.calls += 1
        refused = self.refuse if self.calls <= self.rounds else 0
        self.delivered += [json.loads(record["Data"]) for record in Records[refused:]]
        return {"FailedPutCount": min(refused, len(Records)),
                "RequestResponses": [{"ErrorCode": "ServiceUnavailableException"} if n < refused else {"RecordId": "r"}
                                     for n in range(len(Records))]}


def test_the_firehose_sink_sends_every_row_once_with_its_day_and_retries_the_refused():
    rows = [_row(f"m{n:04d}", n % 30, n % 7, n) for n in range(1203)]
    firehose = Firehose(refuse=3, rounds=2)
    FirehoseSink(firehose, "loyalty-dev-member-facts").write("2026-12-07", rows)
    assert sorted(row["member_id"] for row in firehose.delivered) == sorted(row["member_id"] for row in rows)
    assert {row["snapshot_day"] for row in firehose.delivered} == {"2026-12-07"}
    with pytest.raises(SnapshotNotDelivered):
        FirehoseSink(Firehose(refuse=1, rounds=99), "s").write("2026-12-07", rows[:10])
