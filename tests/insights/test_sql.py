"""One set of SQL for both engines: every insight's file parses as Athena's dialect (Trino) and, translated, runs
on DuckDB (tests/insights/test_insights.py checks its answers)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot
from sqlglot import exp

from loyalty.insights.definitions import INSIGHTS, SQL_FOLDER, render
from loyalty.insights.duckdb_engine import DuckDbEngine, to_duckdb
from loyalty.insights.snapshot_queries import SNAPSHOT_QUERIES

VALUES = {"from_day": date(2026, 1, 1), "to_day": date(2026, 3, 31), "until_day": date(2026, 4, 30),
          "within_days": 30, "campaign_id": "c-1", "holdout_percent": 10, "snapshot_day": date(2026, 3, 31),
          "snapshot_at": "2026-03-31T00:45:00.000000Z", "segment_tag": "lapsed-coffee:0123456789ab"}


def test_there_is_one_sql_file_per_insight_and_per_snapshot_query_and_no_other():
    assert {path.stem for path in SQL_FOLDER.glob("*.sql")} == set(INSIGHTS) | set(SNAPSHOT_QUERIES)


@pytest.mark.parametrize("name", sorted([*INSIGHTS, *SNAPSHOT_QUERIES]))
def test_each_file_parses_as_trino_and_reads_only_its_table(name):
    tree = sqlglot.parse_one(render(name, VALUES), read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    tables = {table.name for table in tree.find_all(exp.Table)} - ctes
    assert tables == ({"member_facts"} if name in SNAPSHOT_QUERIES else {"events"})
    # and it generates back as Trino (what Athena is sent is the file itself, values inlined)
    assert sqlglot.transpile(render(name, VALUES), read="trino", write="trino")


@pytest.mark.parametrize("name", sorted([*INSIGHTS, *SNAPSHOT_QUERIES]))
def test_each_file_runs_on_duckdb_even_on_an_empty_store(name, tmp_path):
    outcome = DuckDbEngine(tmp_path).start(render(name, VALUES))
    assert outcome.status == "succeeded", outcome.error


def test_values_are_inlined_only_as_literals_of_validated_types():
    with pytest.raises(ValueError):
        render("liability", {"to_day": "2026-01-01' OR 1=1 --"})
    with pytest.raises(KeyError):
        render("liability", {})


def test_the_translation_keeps_trino_s_from_base_and_row_unnest_meaning():
    sql = to_duckdb("SELECT from_base('ff', 16) AS n, l.points FROM t CROSS JOIN UNNEST(t.xs) AS l (source, points)")
    assert "0x" in sql and "AS _l(l)" in sql
