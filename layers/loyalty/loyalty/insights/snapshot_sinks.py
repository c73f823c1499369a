"""Where the member-facts snapshot's rows go: Amazon Data Firehose in AWS (its own delivery stream, converting the
JSON rows to Parquet with the Glue table `member_facts`'s schema, partitioned by `snapshot_day`), or Parquet files
written by DuckDB under a local store's `member_facts/snapshot_day=YYYY-MM-DD/` (`make run`, tests). Which one is
the deployment's configuration (`ANALYTICS_ENGINE`), as for the insights' engine."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from loyalty.insights import facts_snapshot

FIREHOSE_BATCH = 500  # records per PutRecordBatch (Firehose's limit; a row is well under 1,000 KB)
FIREHOSE_ATTEMPTS = 5


class SnapshotSink(Protocol):
    delivery_delay: timedelta  # how long after the last row all rows are queryable

    def write(self, snapshot_day: str, rows: Sequence[dict[str, Any]]) -> None:
        """Append these rows to the snapshot of `snapshot_day`."""
        ...


class SnapshotNotDelivered(Exception):
    """Firehose kept refusing some rows: the run fails (and its retry takes the snapshot again)."""


class FirehoseSink:
    def __init__(self, client, stream: str, delivery_delay: timedelta = timedelta(minutes=6)) -> None:
        """delivery_delay: the stream's buffer interval (300 s) and a minute of margin."""
        self.client, self.stream, self.delivery_delay = client, stream, delivery_delay

    def write(self, snapshot_day: str, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), FIREHOSE_BATCH):
            pending = [{"Data": (json.dumps({**row, facts_snapshot.PARTITION: snapshot_day}) + "\n").encode()}
                       for row in rows[start:start + FIREHOSE_BATCH]]
            for _ in range(FIREHOSE_ATTEMPTS):
                answer = self.client.put_record_batch(DeliveryStreamName=self.stream, Records=pending)
                if not answer.get("FailedPutCount"):
                    break
                pending = [record for record, result in zip(pending, answer["RequestResponses"], strict=True)
                           if result.get("ErrorCode")]
            else:
                raise SnapshotNotDelivered(f"{len(pending)} snapshot rows were refused by {self.stream}")


class DuckDbSink:
    """One Parquet file per write, written as `.tmp` and renamed: a reader never sees half a file."""

    delivery_delay = timedelta(0)

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def write(self, snapshot_day: str, rows: Sequence[dict[str, Any]]) -> None:
        import duckdb

        if not rows:
            return
        folder = self.root / facts_snapshot.FOLDER / f"{facts_snapshot.PARTITION}={snapshot_day}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        hidden = folder / f"{name}.tmp"
        columns = "{" + ", ".join(f"'{n}': '{k}'" for n, k in facts_snapshot.duckdb_columns().items()) + "}"
        with tempfile.TemporaryDirectory(prefix="snapshot-") as scratch:
            lines = Path(scratch) / "rows.jsonl"
            lines.write_text("".join(json.dumps(row) + "\n" for row in rows))
            connection = duckdb.connect()
            try:
                connection.execute(
                    f"COPY (SELECT * FROM read_json(?, format = 'newline_delimited', columns = {columns})) TO '"
                    + str(hidden).replace("'", "''") + "' (FORMAT parquet)", [str(lines)])
            finally:
                connection.close()
        os.replace(hidden, folder / name)


def sink_from_settings(settings) -> SnapshotSink:
    if settings.analytics_engine == "duckdb":
        return DuckDbSink(settings.analytics_dir)
    import boto3

    from loyalty.settings import aws_client_config

    return FirehoseSink(boto3.client("firehose", region_name=settings.aws_region, config=aws_client_config()),
                        settings.member_facts_stream)
