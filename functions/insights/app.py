"""POST /v1/insights/queries and GET /v1/insights/queries/{query_id} (admin): the insights on the analytics store,
answered by Athena in AWS (started, then polled by the GET) and by DuckDB locally (answered at once);
POST /v1/campaigns/{campaign_id}/backtest, a campaign replayed over the store's purchases; and
GET /v1/segments/{segment_id}/size, counted on the store's member-facts snapshot. The backtest and the size are
served here, not by the campaigns function: they read the analytics store (an engine, Athena's grants), and write
nothing the campaigns function owns; API Gateway routes each by its own path."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths

from loyalty.api.metrics import instance_metrics
from loyalty.api.resolver import caller_of, documented, json_response, logger, make_resolver
from loyalty.api.tracing import traced
from loyalty.core.platform import platform
from loyalty.domain.access import ADMIN_SCOPE
from loyalty.insights.api import (
    CAMPAIGN_ID_PATTERN, QUERY_ID_PATTERN, BacktestView, InsightQuery, QueryAccepted, QueryView, SegmentSizeView,
)
from loyalty.insights.definitions import BacktestParams
from loyalty.insights.queries import Insights, StoredCampaignFrames
from loyalty.insights.settings import InsightsSettings, engine_from_settings
from loyalty.insights.store import Query, QueryStore
from loyalty.insights.snapshot_queries import SegmentSizes
from loyalty.programs.store import cached_programs
from loyalty.settings import ProgramVersionsSettings
from loyalty.core.composition import cold_start

app = make_resolver()
metrics = instance_metrics()


def _insights() -> Insights:
    settings = InsightsSettings.from_environment()
    from loyalty.campaigns.store import CampaignStore

    campaigns = CampaignStore.from_table(settings.catalog_table, settings.aws_region, settings.aws_endpoint_url_dynamodb)
    clock = platform().clock()
    _, programs = cached_programs(ProgramVersionsSettings.from_environment(), clock)  # at most 60 s old
    return Insights(
        QueryStore.from_table(settings.insight_queries_table, settings.aws_region, settings.aws_endpoint_url_dynamodb),
        engine_from_settings(settings), StoredCampaignFrames(campaigns), clock, programs)


def _sizes() -> SegmentSizes:
    settings = InsightsSettings.from_environment()
    from loyalty.insights.published import Published
    from loyalty.segments.store import SegmentStore

    region, endpoint = settings.aws_region, settings.aws_endpoint_url_dynamodb
    published = Published.from_table(settings.catalog_table, region, endpoint)
    return SegmentSizes(SegmentStore.from_table(settings.catalog_table, region, endpoint), published.snapshots,
                        engine_from_settings(settings), platform().clock())


insights = cold_start(_insights)
sizes = cold_start(_sizes)
QueryId = Annotated[str, Path(pattern=QUERY_ID_PATTERN, description="A query id.")]
CampaignId = Annotated[str, Path(pattern=CAMPAIGN_ID_PATTERN, description="A campaign id.")]
SegmentId = Annotated[str, Path(pattern=CAMPAIGN_ID_PATTERN, description="A segment id.")]


def _view(query: Query) -> QueryView:
    return QueryView(query_id=query.query_id, insight=query.insight, params=query.params, status=query.status,
                     result=query.result, error=query.error, scanned_bytes=query.scanned_bytes, engine=query.engine,
                     created_at=query.created_at)


@app.post(
    "/v1/insights/queries", tags=["insights"], summary="Run an insight on the analytics store",
    description="Answers at once with the query's id; `succeeded` already when the engine answered (DuckDB), else "
                "`running` (Athena): read it with GET until it is `succeeded` or `failed`.",
    responses={202: documented("Accepted", QueryAccepted),
               422: documented("VALIDATION_ERROR: an unknown insight, a parameter it does not take, a bad value")},
)
def run_insight(body: InsightQuery) -> Response[QueryAccepted]:
    caller_of(app).require(ADMIN_SCOPE)
    query = insights().submit(body.root.insight, body.root.params)
    return json_response(202, QueryAccepted(query_id=query.query_id, status=query.status))


@app.get(
    "/v1/insights/queries/<query_id>", tags=["insights"], summary="An insight query: its status and answer",
    description="While it runs, each read asks the engine once; once it has succeeded or failed the answer is kept "
                "(for 7 days).",
    responses={200: documented("The query", QueryView), 404: documented("QUERY_NOT_FOUND")},
)
def read_insight(query_id: QueryId) -> Response[QueryView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, _view(insights().read(query_id)))


@app.post(
    "/v1/campaigns/<campaign_id>/backtest", tags=["campaigns"], summary="What a campaign would have awarded",
    description="Replays the stored purchases of `from`-`to` (at most 366 days) through the campaign engine with this "
                "campaign (draft or not) as if it had been active then: its schedule, conditions, effect and limits. "
                "Writes nothing to the ledger. `200` with the answer (DuckDB), or `202` while the query runs (Athena): "
                "read it at GET /v1/insights/queries/{query_id}.",
    responses={200: documented("The backtest", BacktestView), 202: documented("Running", BacktestView),
               404: documented("CAMPAIGN_NOT_FOUND"), 422: documented("VALIDATION_ERROR: a bad range")},
)
def backtest(campaign_id: CampaignId, body: BacktestParams) -> Response[BacktestView]:
    caller_of(app).require(ADMIN_SCOPE)
    query = insights().backtest(campaign_id, body)
    view = BacktestView.of(query, campaign_id)
    return Response(status_code=202 if query.status == "running" else 200, content_type="application/json",
                    body=view.model_dump(mode="json", by_alias=True))


@app.get(
    "/v1/segments/<segment_id>/size", tags=["segments"], summary="How many members a segment holds, and a sample",
    description="Counted on the newest complete member-facts snapshot of the analytics store (taken nightly; locally "
                "`make snapshot`), with the segment's conditions as the campaign condition engine evaluated them on "
                "each member's facts then; `as_of` is the snapshot's time. Never a scan of the members table.",
    responses={200: documented("The size", SegmentSizeView), 404: documented("SEGMENT_NOT_FOUND"),
               409: documented("NO_SNAPSHOT: no snapshot yet; SEGMENT_NOT_IN_SNAPSHOT: the segment was defined or "
                               "changed after the newest snapshot (its size comes with the next one)"),
               502: documented("ANALYTICS_QUERY_FAILED: the engine failed or did not answer in time")},
)
def segment_size(segment_id: SegmentId) -> Response[SegmentSizeView]:
    caller_of(app).require(ADMIN_SCOPE)
    found = sizes().size(segment_id)
    return json_response(200, SegmentSizeView(segment_id=found.segment_id, members=found.members, sample=found.sample,
                                              as_of=found.as_of))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
