"""The member-facts snapshot: one row per member, as the nightly job (and `make snapshot`) writes it into the
analytics store's `member_facts` table, partitioned by `snapshot_day`.

Pseudonymous by construction: the row is built from the facts (domain/facts.py), which hold no e-mail, name, phone
or birthday, plus the member's status and the 12-month figures RFM scores; `days_from_birthday` is left out (a
daily series of it would give the birthday away). `segments` names the segments the member was in when the row was
taken, each tagged with a digest of the segment's document (`segment_tag`), evaluated by the campaign condition
engine itself on those facts: a segment's size is then a count of the rows carrying its tag, and a segment defined
or changed since the snapshot is known not to be in it.

The same columns in AWS (the Glue table `member_facts`, which Firehose's record format conversion writes as
Parquet) and on a laptop (DuckDB's Parquet files): `tests/insights/test_snapshot.py` compares them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the condition engine is imported by those who evaluate segments, not by every reader of a mark
    from loyalty.domain.segments import Segment

# (name, DuckDB type, Glue/Hive type) of each column but the partition (`snapshot_day`)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("member_id", "VARCHAR", "string"),
    ("snapshot_at", "VARCHAR", "string"),  # the run's time (ISO 8601, UTC): two runs of one day stay apart
    ("status", "VARCHAR", "string"),
    ("tier", "VARCHAR", "string"),
    ("channel", "VARCHAR", "string"),
    ("enrolled_days", "BIGINT", "bigint"),
    ("marketing_opt_in", "BOOLEAN", "boolean"),
    ("purchase_count", "BIGINT", "bigint"),
    ("spend_minor", "BIGINT", "bigint"),
    ("avg_basket_minor", "BIGINT", "bigint"),
    ("last_purchase_at", "VARCHAR", "string"),
    ("days_since_last_purchase", "BIGINT", "bigint"),
    ("purchases_90d", "BIGINT", "bigint"),
    ("spend_90d_minor", "BIGINT", "bigint"),
    ("categories_90d", "VARCHAR[]", "array<string>"),
    ("points_balance", "BIGINT", "bigint"),
    ("points_expiring_30d", "BIGINT", "bigint"),
    ("redemptions_count", "BIGINT", "bigint"),
    ("days_since_last_redemption", "BIGINT", "bigint"),
    ("rfm_r", "BIGINT", "bigint"),
    ("rfm_f", "BIGINT", "bigint"),
    ("rfm_m", "BIGINT", "bigint"),
    ("purchases_12m", "BIGINT", "bigint"),
    ("spend_12m_minor", "BIGINT", "bigint"),
    ("attributes", "VARCHAR", "string"),  # JSON: the business's own values, typed as set
    ("segments", "VARCHAR[]", "array<string>"),  # `segment_tag`s of the segments the member was in
)
NAMES = tuple(name for name, _, _ in COLUMNS)
PARTITION = "snapshot_day"
FOLDER = "member_facts"
NEVER = ("email", "name", "phone", "birthday", "days_from_birthday")  # what a row never holds


def segment_tag(segment: Segment) -> str:
    """`<segment_id>:<12 hex of SHA-256 of its document>`: a replaced segment gets a new tag."""
    document = json.dumps(segment.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))
    return f"{segment.segment_id}:{hashlib.sha256(document.encode()).hexdigest()[:12]}"


def stamp(moment: datetime) -> str:
    """A snapshot's time as its rows and its mark say it (UTC, to the microsecond, `Z`)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_of(member_id: str, status: str, facts: Mapping[str, Any], twelve_months: tuple[int, int],
           segments: Sequence[str], snapshot_at: datetime) -> dict[str, Any]:
    """One member's row: its facts (domain.facts.member_facts), the 12-month figures and its segments' tags."""
    rfm = facts.get("rfm") or {}
    last = facts.get("last_purchase_at")
    row = {name: facts.get(name) for name in NAMES if name in facts and name not in ("attributes", "last_purchase_at")}
    row.update(member_id=member_id, snapshot_at=stamp(snapshot_at), status=status,
               last_purchase_at=last.isoformat() if last else None, categories_90d=list(facts.get("categories_90d") or ()),
               rfm_r=rfm.get("r"), rfm_f=rfm.get("f"), rfm_m=rfm.get("m"), purchases_12m=twelve_months[0],
               spend_12m_minor=twelve_months[1], attributes=json.dumps(dict(facts.get("attributes") or {}), sort_keys=True),
               segments=sorted(segments))
    return {name: row.get(name) for name in NAMES}


def duckdb_columns() -> dict[str, str]:
    return {name: kind for name, kind, _ in COLUMNS}


@dataclass(frozen=True)
class SnapshotMark:
    """A snapshot as the job publishes it once its rows are handed over: when it was taken, how many members,
    which segment versions it evaluated, and from when its rows are all in the store (`ready_at`: the delivery
    stream's buffer time after the last row; at once for a local store)."""

    snapshot_day: str
    snapshot_at: datetime
    members: int
    segments: tuple[str, ...]
    ready_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"snapshot_day": self.snapshot_day, "snapshot_at": self.snapshot_at.isoformat(), "members": self.members,
                "segments": list(self.segments), "ready_at": self.ready_at.isoformat()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SnapshotMark:
        return cls(str(data["snapshot_day"]), datetime.fromisoformat(data["snapshot_at"]), int(data["members"]),
                   tuple(data.get("segments") or ()), datetime.fromisoformat(data["ready_at"]))

    @classmethod
    def taken(cls, snapshot_at: datetime, members: int, segments: Sequence[str], finished_at: datetime,
              delivery_delay: timedelta) -> SnapshotMark:
        return cls(snapshot_at.astimezone(timezone.utc).date().isoformat(), snapshot_at, members, tuple(sorted(segments)),
                   finished_at + delivery_delay)


def latest_ready(marks: Sequence[SnapshotMark], now: datetime) -> SnapshotMark | None:
    """The newest snapshot whose rows are all in the store at `now`."""
    ready = [mark for mark in marks if mark.ready_at <= now]
    return max(ready, key=lambda mark: mark.snapshot_at) if ready else None
