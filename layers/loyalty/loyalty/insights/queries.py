"""The insights' use cases: run an insight (start its query; an engine that answers at once answers now) and read
a query (polling the engine while it runs, keeping the answer once it is known). Given their collaborators: the
query store, the engine, the campaigns, the clock and the program's versions (the point value, the time zone whose
days the insights count)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo
from typing import Any, Protocol

from loyalty.clock import Clock
from loyalty.domain import errors
from loyalty.insights.definitions import INSIGHTS, BacktestParams, CampaignFrame, Context, Params, render
from loyalty.insights.engines import FAILED, RUNNING, SUCCEEDED, Engine, Outcome
from loyalty.insights.store import Query, QueryStore
from loyalty.core.programs import Programs
from loyalty.insights.local_days import in_time_zone
from loyalty.program import Program


class QueryNotFound(errors.DomainError):
    status, code = 404, "QUERY_NOT_FOUND"


class UnknownCampaign(errors.DomainError):
    """campaign_lift names a campaign that does not exist: a bad parameter."""

    status, code = 422, "VALIDATION_ERROR"


class CampaignFrames(Protocol):
    def find(self, campaign_id: str, time_zone: str) -> CampaignFrame | None:
        """campaign_lift's view of a campaign: its dates (the days of `time_zone`, the program's) and holdout."""
        ...

    def document(self, campaign_id: str) -> dict[str, Any] | None:
        """The backtest's: the campaign document as stored."""
        ...


class StoredCampaignFrames:
    """The campaigns' frames from the campaigns' store: their dates and holdout percent (0 until campaigns carry
    one)."""

    def __init__(self, store) -> None:
        self.store = store

    def document(self, campaign_id: str) -> dict[str, Any] | None:
        stored = self.store.get(campaign_id)
        return stored.campaign.model_dump(mode="json", exclude_none=True) if stored else None

    def find(self, campaign_id: str, time_zone: str) -> CampaignFrame | None:
        """The campaign's first and last days are those of the program's time zone: a campaign from 04:00 UTC on
        1 September to 04:00 UTC on 1 October runs, in New York, from the 1st to 30 September (its end excluded)."""
        stored = self.store.get(campaign_id)
        if stored is None:
            return None
        campaign = stored.campaign
        starts = campaign.starts_at or stored.activated_at
        ends = campaign.ends_at or stored.ended_at
        return CampaignFrame(campaign_id, local_day(starts, time_zone) if starts else None,
                             local_day(ends - timedelta(microseconds=1), time_zone) if ends else None,
                             int(getattr(campaign, "holdout_percent", 0) or 0))


def local_day(moment: datetime, time_zone: str) -> date:
    """The day of `time_zone` an instant falls on."""
    return moment.astimezone(ZoneInfo(time_zone)).date()


def _frame_dict(frame: CampaignFrame) -> dict[str, Any]:
    values = asdict(frame)
    return {**values, "starts_on": frame.starts_on and frame.starts_on.isoformat(),
            "ends_on": frame.ends_on and frame.ends_on.isoformat()}


def _frame_of(values: dict[str, Any]) -> CampaignFrame:
    return CampaignFrame(values["campaign_id"], values["starts_on"] and date.fromisoformat(values["starts_on"]),
                         values["ends_on"] and date.fromisoformat(values["ends_on"]), int(values["holdout_percent"]))


class Insights:
    def __init__(self, store: QueryStore, engine: Engine, campaigns: CampaignFrames, clock: Clock, programs: Programs,
                 new_id: Callable[[], str] = lambda: f"q-{uuid.uuid4().hex}") -> None:
        self.store, self.engine, self.campaigns, self.clock = store, engine, campaigns, clock
        self.programs, self.new_id = programs, new_id

    @property
    def program(self) -> Program:
        """The version in force now (`programs` caches the versions at most 60 s)."""
        return self.programs.current()

    def _context(self, stored: dict[str, Any] | None) -> Context:
        stored = stored or {}
        return Context(self.program.point_value_minor, _frame_of(stored["campaign"]) if stored.get("campaign") else None,
                       self.program, stored.get("campaign_document"))

    def backtest(self, campaign_id: str, params: BacktestParams) -> Query:
        """Replay the campaign over the range's purchases (the answer at once locally, or when the query is read)."""
        document = self.campaigns.document(campaign_id)
        if document is None:
            raise errors.CampaignNotFound(f"no campaign {campaign_id}")
        return self.submit("backtest", params, {"campaign_document": document})

    def submit(self, insight: str, params: Params, stored_context: dict[str, Any] | None = None) -> Query:
        """Start the insight's query and keep it; bad parameters were refused before (422)."""
        definition = INSIGHTS[insight]
        stored_context = dict(stored_context or {})
        if insight == "campaign_lift":
            frame = self.campaigns.find(params.campaign_id, self.program.time_zone)
            if frame is None:
                raise UnknownCampaign(f"no campaign {params.campaign_id}",
                                      errors=[{"field": "params.campaign_id", "message": "no such campaign"}])
            stored_context["campaign"] = _frame_dict(frame)
        context = self._context(stored_context)
        values = definition.values(params, context)
        outcome = self.engine.start(in_time_zone(render(insight, values), self.program.time_zone, values, insight))
        query = Query(query_id=self.new_id(), insight=definition.name, params=params.model_dump(mode="json", by_alias=True),
                      status=RUNNING, engine=self.engine.name, created_at=self.clock.now(), context=stored_context)
        query = self._settle(query, outcome)
        self.store.put(query)
        return query

    def read(self, query_id: str) -> Query:
        query = self.store.get(query_id)
        if query is None:
            raise QueryNotFound(f"no query {query_id}")
        if query.status == RUNNING and query.execution_id:
            query = self._settle(query, self.engine.poll(query.execution_id))
            if query.status != RUNNING:
                self.store.put(query)
        return query

    def _settle(self, query: Query, outcome: Outcome) -> Query:
        changes: dict[str, Any] = {"status": outcome.status, "execution_id": outcome.execution_id or query.execution_id,
                                   "scanned_bytes": outcome.scanned_bytes}
        if outcome.status == SUCCEEDED:
            definition = INSIGHTS[query.insight]
            params = definition.params.model_validate(query.params)
            changes["result"] = definition.shape(outcome.rows or [], params, self._context(query.context))
        elif outcome.status == FAILED:
            changes["error"] = outcome.error or "the query failed"
        return query.with_outcome(**changes)
