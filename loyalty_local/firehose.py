"""The local stand-in for Amazon Data Firehose: batches of domain events appended to the analytics store as
Parquet, partitioned by day (hive style: `events/day=YYYY-MM-DD/`), written by DuckDB.

Each batch becomes one file per day it touches, named by a fresh id, so a batch never rewrites another's file and
readers never see half a file (written as `.tmp`, then renamed). Each event is kept as Firehose's record
format conversion keeps it: the envelope's fields and the detail's fields of the Glue schema
(loyalty.insights.schema), nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from loyalty.insights.duckdb_engine import EVENTS_FOLDER
from loyalty.insights.schema import day_of, duckdb_detail_type, row_of

DEFAULT_DIR = Path(".local/analytics")


def deliver(envelopes: Iterable[dict], root: Path = DEFAULT_DIR) -> list[Path]:
    """Append the events (EventBridge envelopes: `detail-type`, `time`, `detail`, ...) to the store under `root`;
    the files written."""
    import duckdb

    by_day: dict[str, list[dict]] = defaultdict(list)
    for envelope in envelopes:
        by_day[day_of(envelope)].append(row_of(envelope))
    written = []
    columns = {"id": "VARCHAR", "detail_type": "VARCHAR", "source": "VARCHAR", "time": "VARCHAR",
               "detail": duckdb_detail_type()}
    with tempfile.TemporaryDirectory(prefix="firehose-") as scratch:
        connection = duckdb.connect()
        try:
            for day, rows in sorted(by_day.items()):
                lines = Path(scratch) / f"{day}.jsonl"
                lines.write_text("".join(json.dumps(row) + "\n" for row in rows))
                folder = Path(root) / EVENTS_FOLDER / f"day={day}"
                folder.mkdir(parents=True, exist_ok=True)
                name = f"part-{uuid.uuid4().hex}.parquet"
                hidden = folder / f"{name}.tmp"  # not *.parquet: readers skip it until renamed
                connection.execute(
                    "COPY (SELECT * FROM read_json(?, format = 'newline_delimited', columns = "
                    + _struct_literal(columns) + ")) TO '" + str(hidden).replace("'", "''") + "' (FORMAT parquet)",
                    [str(lines)])
                os.replace(hidden, folder / name)
                written.append(folder / name)
        finally:
            connection.close()
    return written


def _struct_literal(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
