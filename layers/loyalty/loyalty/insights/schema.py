"""The analytics store's events table: one row per domain event, as EventBridge delivers it to Firehose.

The same columns in AWS (the Glue table `events`, which Firehose's record format conversion writes as Parquet) and
on a laptop (`make run`'s Parquet files, written by DuckDB): `id`, `detail_type`, `source`, `time` and `detail`, a
struct of the fields analytics reads, partitioned by `day` (the event's own UTC day: its purchase, entry or
enrolment time). A field not listed here is dropped on the way in, by Firehose as by the local writer: the
voucher code (a bearer code), free text (an adjustment's reason) and anything personal never land in the store.
"""

from __future__ import annotations

# (name, DuckDB type, Glue/Hive type) of each field of `detail`
DETAIL_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("event_id", "VARCHAR", "string"),
    ("member_id", "VARCHAR", "string"),
    ("entry_id", "VARCHAR", "string"),
    ("transaction_id", "VARCHAR", "string"),
    ("points", "BIGINT", "bigint"),
    ("base_points", "BIGINT", "bigint"),
    ("balance", "BIGINT", "bigint"),
    ("amount_minor", "BIGINT", "bigint"),
    ("currency", "VARCHAR", "string"),
    ("tier", "VARCHAR", "string"),
    ("channel", "VARCHAR", "string"),
    ("store_id", "VARCHAR", "string"),
    ("occurred_at", "VARCHAR", "string"),
    ("at", "VARCHAR", "string"),
    ("expires_at", "VARCHAR", "string"),
    ("available_at", "VARCHAR", "string"),
    ("enrolled_at", "VARCHAR", "string"),
    ("points_balance", "BIGINT", "bigint"),
    ("marketing_opt_in", "BOOLEAN", "boolean"),
    ("reward_id", "VARCHAR", "string"),
    ("redemption_id", "VARCHAR", "string"),
    ("value_minor", "BIGINT", "bigint"),
    ("points_forfeited", "BIGINT", "bigint"),
    ("campaign_id", "VARCHAR", "string"),
    ("starts_at", "VARCHAR", "string"),
    ("ends_at", "VARCHAR", "string"),
    ("erased_at", "VARCHAR", "string"),
    ("status", "VARCHAR", "string"),
    ("lot_month", "VARCHAR", "string"),
    ("return_id", "VARCHAR", "string"),
    ("points_unrecovered", "BIGINT", "bigint"),
    ("program_version", "BIGINT", "bigint"),
    ("breakdown", "STRUCT(source VARCHAR, campaign_id VARCHAR, points BIGINT, program_version BIGINT)[]",
     "array<struct<source:string,campaign_id:string,points:bigint,program_version:bigint>>"),
    ("items", "STRUCT(sku VARCHAR, category VARCHAR, amount_minor BIGINT, quantity BIGINT)[]",
     "array<struct<sku:string,category:string,amount_minor:bigint,quantity:bigint>>"),
)
DETAIL_NAMES = tuple(name for name, _, _ in DETAIL_FIELDS)
# the times that date an event, in order of preference: its `day`
DAY_OF = ("occurred_at", "at", "enrolled_at", "erased_at", "used_at")


def duckdb_detail_type() -> str:
    return "STRUCT(" + ", ".join(f'"{name}" {kind}' for name, kind, _ in DETAIL_FIELDS) + ")"


def glue_detail_type() -> str:
    return "struct<" + ",".join(f"{name}:{glue}" for name, _, glue in DETAIL_FIELDS) + ">"


def day_of(envelope: dict) -> str:
    """The event's partition: the UTC day of its own time, else of its publication."""
    detail = envelope.get("detail") or {}
    for name in DAY_OF:
        if detail.get(name):
            return str(detail[name])[:10]
    return str(envelope["time"])[:10]


def row_of(envelope: dict) -> dict:
    """The event as the store keeps it: the envelope's fields and the detail's known fields only."""
    detail = envelope.get("detail") or {}
    return {"id": envelope.get("id") or detail.get("event_id"), "detail_type": envelope["detail-type"],
            "source": envelope.get("source"), "time": envelope.get("time"),
            "detail": {name: detail.get(name) for name in DETAIL_NAMES}}
