"""The Athena path, with botocore's Stubber (no AWS): start, poll while it runs, read typed results over pages,
a failed query, the bytes-scanned cutoff; each a query answered `failed` with a message, never an error."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.stub import ANY

from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.insights.athena import AthenaEngine
from loyalty.insights.definitions import INSIGHTS
from loyalty.insights.queries import Insights
from tests.conftest import PROGRAM
from tests.insights.test_insights import Frames, MemoryQueries

EXECUTION = "0b3f2c1e-0000-4000-8000-000000000001"


def _insights(client) -> Insights:
    return Insights(MemoryQueries(), AthenaEngine(client, "loyalty-insights", "loyalty_analytics"), Frames(),
                    FixedClock(datetime(2027, 1, 5, tzinfo=timezone.utc)), Programs.fixed(PROGRAM, FixedClock(datetime(2027, 1, 5, tzinfo=timezone.utc))))


def _state(state: str, reason: str | None = None, scanned: int = 1234) -> dict:
    status = {"State": state, **({"StateChangeReason": reason} if reason else {})}
    return {"QueryExecution": {"QueryExecutionId": EXECUTION, "Status": status,
                               "Statistics": {"DataScannedInBytes": scanned}}}


def _page(rows: list[list[str | None]], token: str | None = None, header: bool = False) -> dict:
    columns = [{"Name": "month", "Type": "varchar"}, {"Name": "net_points", "Type": "bigint"}]
    data = ([{"Data": [{"VarCharValue": "month"}, {"VarCharValue": "net_points"}]}] if header else []) + [
        {"Data": [{"VarCharValue": value} if value is not None else {} for value in row]} for row in rows]
    return {"ResultSet": {"Rows": data, "ResultSetMetadata": {"ColumnInfo": columns}}, **({"NextToken": token} if token else {})}


def _liability():
    return INSIGHTS["liability"].params.model_validate({"from": "2026-02-01", "to": "2026-03-31"})


def test_a_query_starts_in_the_workgroup_runs_then_succeeds_with_typed_rows_over_pages(athena):
    client, stubber = athena
    stubber.add_response("start_query_execution", {"QueryExecutionId": EXECUTION}, {
        "QueryString": ANY, "WorkGroup": "loyalty-insights", "QueryExecutionContext": {"Database": "loyalty_analytics"}})
    stubber.add_response("get_query_execution", _state("RUNNING"), {"QueryExecutionId": EXECUTION})
    stubber.add_response("get_query_execution", _state("SUCCEEDED", scanned=98765), {"QueryExecutionId": EXECUTION})
    stubber.add_response("get_query_results", _page([["2026-01", "100"], ["2026-02", "-30"]], token="t1", header=True),
                         {"QueryExecutionId": EXECUTION, "MaxResults": 1000})
    stubber.add_response("get_query_results", _page([["2026-03", "5"]]),
                         {"QueryExecutionId": EXECUTION, "MaxResults": 1000, "NextToken": "t1"})
    insights = _insights(client)
    query = insights.submit("liability", _liability())
    assert (query.status, query.engine, query.result) == ("running", "athena", None)
    assert insights.read(query.query_id).status == "running"
    done = insights.read(query.query_id)
    assert done.status == "succeeded" and done.scanned_bytes == 98765
    assert [(m["month"], m["outstanding_points"]) for m in done.result["months"]] == [("2026-02", 70), ("2026-03", 75)]
    assert insights.read(query.query_id) == done  # kept: Athena is not asked again (the stubber has no more answers)


@pytest.mark.parametrize(("state", "reason", "said"), [
    ("FAILED", "Bytes scanned limit was exceeded", "would scan more than the workgroup's limit allows"),
    ("FAILED", "SYNTAX_ERROR: line 1:8: Column 'x' cannot be resolved", "the query failed: SYNTAX_ERROR"),
    ("CANCELLED", "Query cancelled by user", "the query was cancelled"),
])
def test_a_failed_cancelled_or_over_limit_query_is_failed_with_a_message(athena, state, reason, said):
    client, stubber = athena
    stubber.add_response("start_query_execution", {"QueryExecutionId": EXECUTION})
    stubber.add_response("get_query_execution", _state(state, reason), {"QueryExecutionId": EXECUTION})
    insights = _insights(client)
    query = insights.read(insights.submit("liability", _liability()).query_id)
    assert query.status == "failed" and said in query.error and query.result is None


def test_nulls_and_numbers_are_typed_by_the_result_s_metadata():
    from loyalty.insights.athena import _value

    assert (_value("12", "bigint"), _value("1.5", "double"), _value("true", "boolean"), _value(None, "bigint"),
            _value("2026-01", "varchar")) == (12, 1.5, True, None, "2026-01")
