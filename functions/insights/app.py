"""POST /v1/insights/queries and GET /v1/insights/queries/{query_id} (admin): the insights on the analytics store,
answered by Athena in AWS (started, then polled by the GET) and by DuckDB locally (answered at once)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths

from loyalty.api.metrics import instance_metrics
from loyalty.api.resolver import caller_of, documented, json_response, logger, make_resolver
from loyalty.api.tracing import traced
from loyalty.clock import clock_from_environment
from loyalty.domain.access import ADMIN_SCOPE
from loyalty.insights.api import QUERY_ID_PATTERN, InsightQuery, QueryAccepted, QueryView
from loyalty.insights.queries import Insights, StoredCampaignFrames
from loyalty.insights.settings import InsightsSettings, engine_from_settings
from loyalty.insights.store import Query, QueryStore
from loyalty.program import load_program
from loyalty.service import cold_start

app = make_resolver()
metrics = instance_metrics()


def _insights() -> Insights:
    settings = InsightsSettings.from_environment()
    from loyalty.store.campaigns import CampaignStore

    campaigns = CampaignStore.from_table(settings.catalog_table, settings.aws_region, settings.aws_endpoint_url_dynamodb)
    return Insights(
        QueryStore.from_table(settings.insight_queries_table, settings.aws_region, settings.aws_endpoint_url_dynamodb),
        engine_from_settings(settings), StoredCampaignFrames(campaigns), clock_from_environment(),
        load_program(settings.program_file).point_value_minor)


insights = cold_start(_insights)
QueryId = Annotated[str, Path(pattern=QUERY_ID_PATTERN, description="A query id.")]


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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
