"""The reports' store operations: the counters, read without a member or a ledger entry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING


from loyalty.domain.stats import TOTAL, Bucket
from loyalty.store import keys
from loyalty.store.ledger import FIRST_DAY, Store

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    pass

class ReportStore:
    """The reports feature's reads, on the store base."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def counters(self, buckets: Iterable[Bucket]) -> dict[Bucket, dict[str, int]]:
        """Counters by bucket, every shard added up (missing items count as empty)."""
        wanted = {keys.counter_key(bucket, shard): bucket for bucket in buckets for shard in range(self.store.stats_shards)}
        merged: dict[Bucket, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for key, item in self._read_counter_items(wanted).items():
            for name, value in item.items():
                if "N" in value:
                    merged[wanted[key]][name] += int(value["N"])
        return {bucket: dict(values) for bucket, values in merged.items()}

    def totals(self) -> tuple[dict[str, int], date | None]:
        """The running totals over every shard, and the first day anything was counted (None: nothing yet).

        A total written before `first_day` was kept gives `date.min`: nothing is known to be empty.
        """
        wanted = [keys.counter_key(Bucket(TOTAL, None), shard) for shard in range(self.store.stats_shards)]
        totals: dict[str, int] = defaultdict(int)
        first_days = []
        for item in self._read_counter_items(wanted).values():
            for name, value in item.items():
                if "N" in value:
                    totals[name] += int(value["N"])
            first_days.append(date.fromisoformat(item[FIRST_DAY]["S"]) if FIRST_DAY in item else date.min)
        return dict(totals), min(first_days) if first_days else None

    def _read_counter_items(self, wanted: Iterable[str]) -> dict[str, dict]:
        """Raw items (counters are dynamic attributes, which a pynamodb model would drop), eventually consistent
        (half the read units; a report may lag a write by a second), in batches of 100."""
        table = self.store.tables.counters.Meta.table_name
        found = self.store.batch_get({table: [{"pk": {"S": key}} for key in dict.fromkeys(wanted)]}, consistent=False)
        return {item["pk"]["S"]: item for item in found.get(table, [])}
