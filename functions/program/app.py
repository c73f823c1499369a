"""The program's versions (admin): GET /v1/program/versions (newest first) and POST /v1/program/versions (publish one
that comes into force at its effective_from). Every function sees a new version within its cache's 60 s."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

from loyalty.api.metrics import instance_metrics
from loyalty.api.resolver import caller_of, documented, json_response, logger, make_resolver
from loyalty.api.tracing import traced
from loyalty.core.composition import cold_start
from loyalty.core.platform import platform
from loyalty.domain.access import ADMIN_SCOPE
from loyalty.program import load_program
from loyalty.programs.api import ProgramVersionPage, ProgramVersionView, PublishVersion
from loyalty.programs.store import ProgramVersionStore
from loyalty.programs.use_cases import ProgramVersions
from loyalty.settings import ProgramVersionsSettings

app = make_resolver()
metrics = instance_metrics()


def compose() -> ProgramVersions:
    settings = ProgramVersionsSettings.from_environment()
    store = ProgramVersionStore.from_table(settings.catalog_table, settings.aws_region, settings.aws_endpoint_url_dynamodb)
    return ProgramVersions(store, platform().clock(), load_program(settings.program_file))


versions = cold_start(compose)


@app.get(
    "/v1/program/versions", tags=["program"], summary="The program's versions, newest first (admin)",
    description="Every version with when it is in force from, who published it, when and why. Version 1 is the "
    "program as first deployed (published_by `seed`). One Query; every version on one page.",
    responses={200: documented("The versions", ProgramVersionPage)},
)
def list_versions() -> Response[ProgramVersionPage]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, ProgramVersionPage(items=[ProgramVersionView.of(v) for v in versions().newest_first()]))


@app.post(
    "/v1/program/versions", tags=["program"], summary="Publish a new version of the program (admin)",
    description="The whole program document (what GET /v1/program answers, changed), `effective_from` (now or "
    "later, not before the newest version's; absent: now) and a `note`. It takes the next version number, even "
    "when two are published at once, and every function applies it from `effective_from` (within 60 s of being "
    "published). A purchase earns under the version in force at its `occurred_at`. Removing a tier, changing "
    "`currency` or `time_zone`, or a past `effective_from` is 422 and writes nothing.",
    responses={201: documented("Published", ProgramVersionView),
               422: documented("VALIDATION_ERROR: the document breaks the program's rules, removes a tier, changes "
                               "currency or time_zone, or starts in the past")},
)
def publish_version(body: PublishVersion) -> Response[ProgramVersionView]:
    caller = caller_of(app)
    caller.require(ADMIN_SCOPE)
    published = versions().publish(caller, body.program(), body.effective_from, body.note)
    logger.info("program version published", extra={"version": published.version,
                                                    "effective_from": published.effective_from.isoformat()})
    return json_response(201, ProgramVersionView.of(published))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
