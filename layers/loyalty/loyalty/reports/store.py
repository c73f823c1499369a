"""The reports' store operations: the counters, read without a member or a ledger entry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactWrite

from loyalty.domain.stats import CUMULATED, CUMULATIVE, DAY, ROLLUP, TOTAL, Bucket
from loyalty.store import keys
from loyalty.store.ledger import FIRST_DAY, Store
from loyalty.store.transaction import busy

ROLLED_THROUGH = "rolled_through"  # on the roll-up's marker: the last day its cumulative item was written for


class ReportStore:
    """The reports feature's reads, on the store base."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def counters(self, buckets: Iterable[Bucket]) -> dict[Bucket, dict[str, int]]:
        """Counters by bucket, every shard added up (missing items count as empty)."""
        wanted = {keys.counter_key(bucket, shard): bucket for bucket in buckets
                  for shard in (range(self.store.stats_shards) if keys.sharded(bucket) else [0])}
        merged: dict[Bucket, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for key, item in self._read_counter_items(wanted).items():
            for name, value in item.items():
                if "N" in value:
                    merged[wanted[key]][name] += int(value["N"])
        return {bucket: dict(values) for bucket, values in merged.items()}

    def report_basis(self) -> tuple[dict[str, int], date | None, date | None]:
        """The running totals over every shard, the first day anything was counted (None: nothing yet) and the last
        day the roll-up added up (None: none yet), in one BatchGetItem.

        A total written before `first_day` was kept gives `date.min`: nothing is known to be empty.
        """
        rollup = keys.counter_key(Bucket(ROLLUP, None), 0)
        wanted = [keys.counter_key(Bucket(TOTAL, None), shard) for shard in range(self.store.stats_shards)]
        found = self._read_counter_items([*wanted, rollup])
        marker = found.pop(rollup, {})
        totals: dict[str, int] = defaultdict(int)
        first_days = []
        for item in found.values():
            for name, value in item.items():
                if "N" in value:
                    totals[name] += int(value["N"])
            first_days.append(date.fromisoformat(item[FIRST_DAY]["S"]) if FIRST_DAY in item else date.min)
        through = date.fromisoformat(marker[ROLLED_THROUGH]["S"]) if ROLLED_THROUGH in marker else None
        return dict(totals), min(first_days) if first_days else None, through

    def day_figures(self, day: date) -> dict[str, int]:
        """A day's net and pending points, every shard added up, read consistently (for the roll-up)."""
        wanted = [keys.counter_key(Bucket(DAY, day.isoformat()), shard) for shard in range(self.store.stats_shards)]
        figures = dict.fromkeys(CUMULATED, 0)
        for item in self._read_counter_items(wanted, consistent=True).values():
            for name in CUMULATED:
                figures[name] += int(item[name]["N"]) if name in item else 0
        return figures

    def cumulative(self, day: date) -> dict[str, int] | None:
        """The roll-up's figures through `day` (None: not rolled up)."""
        key = keys.counter_key(Bucket(CUMULATIVE, day.isoformat()), 0)
        item = self._read_counter_items([key], consistent=True).get(key)
        return {name: int(item[name]["N"]) if name in item else 0 for name in CUMULATED} if item else None

    def write_cumulative(self, day: date, figures: dict[str, int], previous: date | None) -> bool:
        """Keep the figures through `day` and move the roll-up's marker from `previous` to `day`, in one transaction;
        False when the marker was not at `previous` (another run moved it: nothing written)."""
        model = self.store.tables.counters
        marker = Path(ROLLED_THROUGH)
        condition = marker.does_not_exist() if previous is None else marker == previous.isoformat()
        actions = [Path(name).set(value) for name, value in sorted(figures.items())]
        try:
            with TransactWrite(connection=self.store.connection()) as writes:
                writes.update(model(keys.counter_key(Bucket(CUMULATIVE, day.isoformat()), 0)), actions=actions)
                writes.update(model(keys.counter_key(Bucket(ROLLUP, None), 0)), actions=[marker.set(day.isoformat())],
                              condition=condition)
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in error.cancellation_reasons or []]
            if "ConditionalCheckFailed" in reasons:
                return False
            raise busy(error) from error
        return True

    def _read_counter_items(self, wanted: Iterable[str], consistent: bool = False) -> dict[str, dict]:
        """Raw items (counters are dynamic attributes, which a pynamodb model would drop), eventually consistent
        unless asked (half the read units; a report may lag a write by a second), in batches of 100."""
        table = self.store.tables.counters.Meta.table_name
        found = self.store.batch_get({table: [{"pk": {"S": key}} for key in dict.fromkeys(wanted)]}, consistent=consistent)
        return {item["pk"]["S"]: item for item in found.get(table, [])}
