"""The local Firehose and its feeder: each line delivered once, a partial line waits for its end, a file started
afresh is read from its start, every batch lands in its events' days, and only the schema's fields land."""

from __future__ import annotations

import json

from loyalty.insights.schema import DETAIL_NAMES, day_of
from loyalty_local.analytics import EventsFollower
from loyalty_local.firehose import deliver


def _line(n: int, at: str = "2026-12-01T10:00:00Z") -> str:
    return json.dumps({"time": "2027-01-02T00:00:00Z", "source": "loyalty", "detail-type": "PointsEarned",
                       "detail": {"event_id": f"e{n}", "member_id": "m1", "points": n, "at": at}}) + "\n"


def test_each_line_is_delivered_once_and_a_partial_line_waits(tmp_path):
    events, batches = tmp_path / "events.jsonl", []
    follower = EventsFollower(events, tmp_path / "store", deliver=lambda batch, root: batches.append(batch))
    assert follower.step() == 0  # no file yet
    events.write_text(_line(1) + _line(2)[:20])
    assert follower.step() == 1
    with open(events, "a") as sink:
        sink.write(_line(2)[20:] + _line(3))
    assert follower.step() == 2 and follower.step() == 0
    assert [[e["detail"]["event_id"] for e in batch] for batch in batches] == [["e1"], ["e2", "e3"]]
    events.write_text(_line(4))  # a new run started the file afresh
    assert follower.step() == 1 and batches[-1][0]["detail"]["event_id"] == "e4"


def test_a_batch_lands_in_its_events_own_days_with_the_schema_s_fields_only(tmp_path):
    import duckdb

    lines = [json.loads(_line(1, "2026-12-01T23:59:59Z")), json.loads(_line(2, "2026-12-02T00:00:00Z"))]
    lines[0]["detail"]["voucher_code"] = "SECRET"  # not a field of the store
    written = deliver(lines, tmp_path)
    assert sorted(path.parent.name for path in written) == ["day=2026-12-01", "day=2026-12-02"]
    assert [day_of(line) for line in lines] == ["2026-12-01", "2026-12-02"]
    connection = duckdb.connect()
    names = [row[0] for row in connection.execute(
        f"DESCRIBE SELECT detail.* FROM read_parquet('{tmp_path}/events/day=*/*.parquet')").fetchall()]
    assert tuple(names) == DETAIL_NAMES
    assert "SECRET" not in json.dumps(connection.execute(
        f"SELECT * FROM read_parquet('{tmp_path}/events/day=*/*.parquet')").fetchall(), default=str)
    deliver(lines[:1], tmp_path)  # another batch of the same day: another file beside the first
    assert len(list((tmp_path / "events" / "day=2026-12-01").glob("*.parquet"))) == 2
