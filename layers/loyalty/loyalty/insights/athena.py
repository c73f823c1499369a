"""The Athena engine: StartQueryExecution in the workgroup (its result location and its bytes-scanned cutoff are
the workgroup's, set in template.yaml), GetQueryExecution to poll, GetQueryResults to read the rows, typed by the
result's column metadata. A failed query, a cancelled one and one stopped by the scan cutoff are `failed` with
Athena's reason, never an error of the request."""

from __future__ import annotations

from typing import Any

from loyalty.insights.engines import FAILED, RUNNING, SUCCEEDED, Outcome

MAX_RESULT_ROWS = 10_000  # no insight answers more; a bigger result is refused rather than read page after page
_INTEGERS = {"tinyint", "smallint", "integer", "bigint"}
_DECIMALS = {"double", "float", "real", "decimal"}


def _value(text: str | None, kind: str) -> Any:
    if text is None:
        return None
    if kind in _INTEGERS:
        return int(text)
    if kind in _DECIMALS:
        return float(text)
    if kind == "boolean":
        return text == "true"
    return text


class AthenaEngine:
    name = "athena"

    def __init__(self, client, workgroup: str, database: str) -> None:
        self.client, self.workgroup, self.database = client, workgroup, database

    @classmethod
    def from_settings(cls, settings) -> AthenaEngine:
        import boto3

        from loyalty.settings import aws_client_config

        client = boto3.client("athena", region_name=settings.aws_region, config=aws_client_config())
        return cls(client, settings.athena_workgroup, settings.athena_database)

    def start(self, sql: str) -> Outcome:
        started = self.client.start_query_execution(
            QueryString=sql, WorkGroup=self.workgroup, QueryExecutionContext={"Database": self.database})
        return Outcome(RUNNING, started["QueryExecutionId"])

    def poll(self, execution_id: str) -> Outcome:
        execution = self.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        status = execution.get("Status", {})
        state = status.get("State")
        scanned = execution.get("Statistics", {}).get("DataScannedInBytes")
        if state in ("QUEUED", "RUNNING"):
            return Outcome(RUNNING, execution_id, scanned_bytes=scanned)
        if state != "SUCCEEDED":
            return Outcome(FAILED, execution_id, error=_failure(status), scanned_bytes=scanned)
        try:
            rows = self._rows(execution_id)
        except ValueError as error:
            return Outcome(FAILED, execution_id, error=str(error), scanned_bytes=scanned)
        return Outcome(SUCCEEDED, execution_id, rows=rows, scanned_bytes=scanned)

    def _rows(self, execution_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        names: list[str] = []
        kinds: list[str] = []
        token = None
        first = True
        while True:
            page = self.client.get_query_results(
                QueryExecutionId=execution_id, MaxResults=1000, **({"NextToken": token} if token else {}))
            result = page["ResultSet"]
            if not names:
                columns = result["ResultSetMetadata"]["ColumnInfo"]
                names, kinds = [c["Name"] for c in columns], [c["Type"].lower() for c in columns]
            data = result["Rows"]
            if first:  # the first row of the first page holds the column names
                data, first = data[1:], False
            for row in data:
                values = [cell.get("VarCharValue") for cell in row["Data"]]
                rows.append({name: _value(text, kind) for name, text, kind in zip(names, values, kinds, strict=True)})
            if len(rows) > MAX_RESULT_ROWS:
                raise ValueError(f"the result has more than {MAX_RESULT_ROWS} rows: narrow the range")
            token = page.get("NextToken")
            if not token:
                return rows


def _failure(status: dict) -> str:
    reason = status.get("StateChangeReason") or "no reason given"
    if status.get("State") == "CANCELLED":
        return f"the query was cancelled: {reason}"
    if "bytes scanned" in reason.lower() or "BytesScannedCutoff" in reason:
        return f"the query would scan more than the workgroup's limit allows; narrow the range ({reason})"
    return f"the query failed: {reason}"
