"""The engines an insight's SQL runs on, behind one small interface: Athena in AWS (asynchronous: start, then
poll), DuckDB on a laptop (answers at once). The SQL files are written in Athena's dialect (Trino); the DuckDB
engine translates them with sqlglot. Neither engine is imported until the function that needs it is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


@dataclass(frozen=True)
class Outcome:
    """Where a query stands: `rows` once it succeeded, `error` (for the client) once it failed."""

    status: str
    execution_id: str | None = None
    rows: list[dict[str, Any]] | None = field(default=None)
    error: str | None = None
    scanned_bytes: int | None = None


class Engine(Protocol):
    name: str  # "athena" | "duckdb": what the query's view says

    def start(self, sql: str) -> Outcome:
        """Start the query; an engine that answers at once returns its final outcome."""
        ...

    def poll(self, execution_id: str) -> Outcome:
        """The query's outcome now (running, or final)."""
        ...
