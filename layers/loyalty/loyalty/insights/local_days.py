"""The insights count the program's days: a purchase at 23:30 in the program's time zone falls on that local day,
whatever UTC says. The store is partitioned by UTC day (Firehose cannot convert time zones), so for a program
outside UTC each query reads `events` through a subquery that keeps the partitions of the range (a day wider on
each side) and gives every row `day` = the local day of its own time (the partition's time: `occurred_at`, else
`at`, `enrolled_at`, `erased_at`, else the envelope's). The SQL files are unchanged: their `day` is the local day.
In UTC the query is the file as it is."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

# where an insight's reads begin: every read of these is bounded below by `from_day`; the others read from the start
BOUNDED_BELOW = frozenset({"retention_cohorts", "repeat_purchase", "clv"})
ONE_DAY = timedelta(days=1)
LOCAL_DAY = ("CAST(CAST(at_timezone(from_iso8601_timestamp(coalesce(detail.occurred_at, detail.at, detail.enrolled_at, "
             "detail.erased_at, time)), '{zone}') AS DATE) AS VARCHAR)")


def in_time_zone(sql: str, time_zone: str, values: dict[str, Any], insight: str) -> str:
    """The rendered SQL (Trino) reading `events` by the local days of `time_zone`."""
    if time_zone == "UTC":
        return sql
    import sqlglot
    from sqlglot import exp

    if not time_zone.replace("/", "").replace("_", "").replace("-", "").replace("+", "").isalnum():
        raise ValueError(f"not a time zone name: {time_zone!r}")
    days = [value for value in values.values() if isinstance(value, date)]
    last = max(days) + ONE_DAY
    first = min(days) - ONE_DAY if insight in BOUNDED_BELOW and days else None
    scan = f"day <= '{last.isoformat()}'" + (f" AND day >= '{first.isoformat()}'" if first else "")
    local = sqlglot.parse_one(
        f"SELECT id, detail_type, source, time, detail, {LOCAL_DAY.format(zone=time_zone)} AS day FROM events WHERE {scan}",
        read="trino")

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name == "events" and not node.db:
            return exp.Subquery(this=local.copy(), alias=exp.TableAlias(this=exp.to_identifier(node.alias_or_name)))
        return node

    return sqlglot.parse_one(sql, read="trino").transform(rewrite).sql(dialect="trino")
