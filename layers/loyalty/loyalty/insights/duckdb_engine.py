"""The DuckDB engine: the insights' SQL on the local analytics store (Parquet files, hive-partitioned by day).

Local only (`make run`, tests, benchmarks): duckdb and sqlglot are development dependencies, not in the layer,
and are imported when this engine is built. The SQL files are Athena's dialect; sqlglot translates them, and two
rewrites cover what it leaves to DuckDB: `from_base(hex, 16)` becomes a cast of `0x<hex>`, and an UNNEST of an
array of rows named by its fields (`AS line (source, campaign_id, points)`, Trino's form) becomes an UNNEST to one
struct column named `line`, so that `line.points` reads the same on both engines; Trino's `at_timezone(t, zone)`
(the local days of a program outside UTC: insights/local_days.py) becomes DuckDB's `timezone(zone, t)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loyalty.insights import facts_snapshot
from loyalty.insights.engines import FAILED, SUCCEEDED, Outcome
from loyalty.insights.schema import duckdb_detail_type

EVENTS_FOLDER = "events"


def to_duckdb(sql: str) -> str:
    """An insight's SQL (Trino) as DuckDB runs it."""
    import sqlglot
    from sqlglot import exp

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.FromBase):
            if node.expression.name != "16":
                raise ValueError("from_base is translated for base 16 only")
            return exp.cast(exp.DPipe(this=exp.Literal.string("0x"), expression=node.this), "BIGINT")
        if isinstance(node, exp.Anonymous) and node.name.upper() == "AT_TIMEZONE":  # Trino's; DuckDB's timezone()
            moment, zone = node.expressions
            return exp.Anonymous(this="timezone", expressions=[zone, moment])
        alias = node.args.get("alias") if isinstance(node, exp.Unnest) else None
        if isinstance(alias, exp.TableAlias) and len(alias.columns) > 1:
            node.set("alias", exp.TableAlias(this=exp.to_identifier(f"_{alias.name}"),
                                             columns=[exp.to_identifier(alias.name)]))
        return node

    return sqlglot.parse_one(sql, read="trino").transform(rewrite).sql(dialect="duckdb")


def _plain_type(kind: str) -> str:
    return kind.replace('"', "").replace(" ", "").upper()


def _events_view(connection, pattern: str) -> None:
    """The view `events` over the store's files. DuckDB takes the columns from the first file (files with fewer
    fields read them as null): when that file was written before a field joined the schema (a store kept from
    an older version), the files are read by name instead, every file's own columns, which costs reading each
    file's footer."""
    def create(by_name: bool) -> None:
        connection.execute(
            "CREATE OR REPLACE VIEW events AS SELECT * FROM read_parquet('" + pattern + "', hive_partitioning = true, "
            + ("union_by_name = true, " if by_name else "") + "hive_types = {'day': 'VARCHAR'})")

    create(by_name=False)
    [(kind,)] = connection.execute("SELECT column_type FROM (DESCRIBE SELECT detail FROM events)").fetchall()
    if _plain_type(kind) != _plain_type(duckdb_detail_type()):
        create(by_name=True)


class DuckDbEngine:
    """Runs each query at once in a fresh in-memory DuckDB over the Parquet files under `root`."""

    name = "duckdb"

    def __init__(self, root: Path, threads: int | None = None) -> None:
        self.root = Path(root)
        self.threads = threads

    def _files(self) -> list[Path]:
        return sorted((self.root / EVENTS_FOLDER).glob("day=*/*.parquet"))

    def connect(self):
        import duckdb

        connection = duckdb.connect()
        connection.execute("SET enable_progress_bar = false")  # a server's log is no terminal
        if self.threads:
            connection.execute(f"SET threads = {int(self.threads)}")
        files = self._files()
        if files:
            pattern = str(self.root / EVENTS_FOLDER / "day=*" / "*.parquet").replace("'", "''")
            _events_view(connection, pattern)
        else:  # no event yet: an empty table of the same columns
            connection.execute(f"CREATE TABLE events (id VARCHAR, detail_type VARCHAR, source VARCHAR, time VARCHAR, "
                               f"detail {duckdb_detail_type()}, day VARCHAR)")
        snapshots = sorted((self.root / facts_snapshot.FOLDER).glob(f"{facts_snapshot.PARTITION}=*/*.parquet"))
        if snapshots:
            pattern = str(self.root / facts_snapshot.FOLDER / f"{facts_snapshot.PARTITION}=*" / "*.parquet").replace("'", "''")
            connection.execute(
                f"CREATE VIEW member_facts AS SELECT * FROM read_parquet('{pattern}', hive_partitioning = true, "
                f"hive_types = {{'{facts_snapshot.PARTITION}': 'VARCHAR'}})")
        else:  # no snapshot yet
            columns = ", ".join(f"{name} {kind}" for name, kind in facts_snapshot.duckdb_columns().items())
            connection.execute(f"CREATE TABLE member_facts ({columns}, {facts_snapshot.PARTITION} VARCHAR)")
        return connection, sum(path.stat().st_size for path in [*files, *snapshots])

    def start(self, sql: str) -> Outcome:
        connection, size = self.connect()
        try:
            cursor = connection.execute(to_duckdb(sql))
            names = [column[0] for column in cursor.description]
            rows: list[dict[str, Any]] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except Exception as error:  # a query DuckDB refuses: the query failed, the request did not
            return Outcome(FAILED, error=f"the query failed: {error}")
        finally:
            connection.close()
        return Outcome(SUCCEEDED, rows=rows, scanned_bytes=size)

    def poll(self, execution_id: str) -> Outcome:
        return Outcome(FAILED, execution_id, error="DuckDB queries finish when they start: nothing to poll")
