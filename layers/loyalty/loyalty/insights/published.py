"""What the analytics jobs publish for the functions, as small documents in the catalog table under pk "ANALYTICS"
(the campaigns' item type, like the segments): `SNAPSHOTS`, the latest member-facts snapshots (`SnapshotMark`s:
the newest two, so that while the newest is still being delivered the one before answers), and `RFM`, the RFM
quintile boundaries computed from a snapshot. One Query reads both; the functions cache what they read
(`core.cache.Refreshed`, timed by the business clock)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from pynamodb.exceptions import PutError, QueryError

from loyalty.clock import Clock
from loyalty.core.cache import Refreshed
from loyalty.domain.facts import RfmBoundaries
from loyalty.insights.facts_snapshot import SnapshotMark
from loyalty.store.models import CampaignModel, bind_campaigns
from loyalty.store.transaction import RequestHook, busy, hook_requests

PK = "ANALYTICS"
SNAPSHOTS, RFM = "SNAPSHOTS", "RFM"
KEEP_MARKS = 2
RFM_CACHE_TIMES = 10  # boundaries change once a night: kept ten times as long as the campaigns (10 minutes as deployed)


def rfm_to_json(boundaries: RfmBoundaries) -> dict:
    return {"recency": list(boundaries.recency), "frequency": list(boundaries.frequency),
            "monetary": list(boundaries.monetary), "as_of": boundaries.as_of.isoformat()}


def rfm_from_json(data: dict) -> RfmBoundaries:
    return RfmBoundaries(tuple(int(v) for v in data["recency"]), tuple(int(v) for v in data["frequency"]),  # type: ignore[arg-type]
                         tuple(int(v) for v in data["monetary"]), datetime.fromisoformat(data["as_of"]))  # type: ignore[arg-type]


class Published:
    """The analytics documents of one catalog table."""

    def __init__(self, model: type[CampaignModel]) -> None:
        self.model = model

    @classmethod
    def from_table(cls, catalog_table: str, region: str | None = None, endpoint_url: str | None = None) -> Published:
        return cls(bind_campaigns(catalog_table, region, endpoint_url))

    def on_request(self, hook: RequestHook) -> None:
        hook_requests([self.model], hook)

    def _documents(self) -> dict[str, dict]:
        try:
            return {record.sk: json.loads(record.document) for record in self.model.query(PK)}
        except QueryError as error:
            raise busy(error) from error

    def _put(self, sk: str, document: dict, now: datetime) -> None:
        record = self.model(PK, sk, document=json.dumps(document, sort_keys=True), status="published", created_at=now)
        try:
            record.save()
        except PutError as error:
            raise busy(error) from error

    def snapshots(self) -> list[SnapshotMark]:
        return [SnapshotMark.from_json(mark) for mark in self._documents().get(SNAPSHOTS, {}).get("marks", [])]

    def add_snapshot(self, mark: SnapshotMark, now: datetime) -> None:
        """Keep `mark` with the newest before it (a job runs once a night: no two write at once)."""
        marks = sorted([*self.snapshots(), mark], key=lambda m: m.snapshot_at)[-KEEP_MARKS:]
        self._put(SNAPSHOTS, {"marks": [m.to_json() for m in marks]}, now)

    def rfm(self) -> RfmBoundaries | None:
        found = self._documents().get(RFM)
        return rfm_from_json(found) if found else None

    def put_rfm(self, boundaries: RfmBoundaries, now: datetime) -> None:
        self._put(RFM, rfm_to_json(boundaries), now)


def cached_rfm(published: Published, clock: Clock, campaign_cache_seconds: float) -> Callable[[], RfmBoundaries | None]:
    """The published boundaries, read again when older than RFM_CACHE_TIMES the campaigns' cache time, of `clock`
    time (None: none yet)."""
    cache = Refreshed(published.rfm, RFM_CACHE_TIMES * campaign_cache_seconds, timer=lambda: clock.now().timestamp())
    return cache.get
