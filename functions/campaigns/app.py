"""The back office's campaigns (admin): POST and GET /v1/campaigns, GET and PUT /v1/campaigns/{campaign_id},
POST .../activate and .../end. The functions applying or publishing campaigns see a change within their
cache's 60 s; CampaignActivated and CampaignEnded come from the catalog table's stream (docs/events.md)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths

from loyalty.api.metrics import instance_metrics
from loyalty.api.tracing import traced
from loyalty.api.resolver import caller_of, documented, json_response, logger, make_resolver
from loyalty.campaigns.api import CAMPAIGN_ID_PATTERN, CampaignDocument, CampaignPage, CampaignStatus, CampaignView
from loyalty.core.platform import platform
from loyalty.domain import errors
from loyalty.domain.access import ADMIN_SCOPE
from loyalty.domain.campaigns.document import Campaign
from loyalty.domain.campaigns.engine import Usage
from loyalty.core.composition import cold_start
from loyalty.programs.store import cached_programs
from loyalty.settings import CampaignAdminSettings, ProgramVersionsSettings
from loyalty.campaigns.store import DRAFT, CampaignStore, StoredCampaign
from loyalty.segments.api import SEGMENT_ID_PATTERN, SegmentDocument, SegmentPage, SegmentView
from loyalty.segments.store import SegmentStore
from loyalty.segments.use_cases import Segments

app = make_resolver()
metrics = instance_metrics()
settings = cold_start(CampaignAdminSettings.from_environment)
campaigns = cold_start(lambda: CampaignStore.from_table(
    settings().catalog_table, settings().aws_region, settings().aws_endpoint_url_dynamodb, settings().stats_table,
))
clock = platform().clock()
# The program's versions, cached: a condition on member.tier may name a tier of the newest (a future one included).
programs = cold_start(lambda: cached_programs(ProgramVersionsSettings.from_environment(), clock)[1])
segments = cold_start(lambda: Segments(SegmentStore(campaigns().model), clock, campaigns().active))  # the same table

CampaignId = Annotated[str, Path(pattern=CAMPAIGN_ID_PATTERN, description="A campaign id.")]
UNKNOWN = documented("CAMPAIGN_NOT_FOUND")
INVALID = documented("VALIDATION_ERROR: the document breaks a rule; `errors` names each field")


def _with_known_segments(campaign: Campaign) -> Campaign:
    """An audience may name only segments that exist (one Query, only for a campaign with an audience)."""
    if campaign.audience:
        segments().ensure_defined(campaign.audience.segment_ids)
    return campaign


def _view(stored: StoredCampaign, status: int = 200) -> Response[CampaignView]:
    """A draft has never applied: its counters are not read."""
    usage = Usage() if stored.status == DRAFT else campaigns().usage([stored.campaign.campaign_id])[stored.campaign.campaign_id]
    return json_response(status, CampaignView.of(stored, usage, clock.now()))


@app.post(
    "/v1/campaigns", tags=["campaigns"], summary="Create a draft campaign",
    description="Nothing applies until it is activated. `campaign_id` is generated when absent.",
    responses={201: documented("Created", CampaignView), 409: documented("CAMPAIGN_EXISTS"), 422: INVALID},
)
def create_campaign(body: CampaignDocument) -> Response[CampaignView]:
    caller_of(app).require(ADMIN_SCOPE)
    campaign = _with_known_segments(body.campaign(programs().newest_naming(body.named_tiers())))
    return json_response(201, CampaignView.of(campaigns().create(campaign, clock.now()), Usage(), clock.now()))


@app.get(
    "/v1/campaigns", tags=["campaigns"], summary="List campaigns, by id",
    description="`status` as each campaign's view says it: `ended` includes active campaigns past their ends_at.",
    responses={200: documented("A page of campaigns with their counters", CampaignPage), 400: documented("INVALID_CURSOR")},
)
def list_campaigns(
    status: Annotated[CampaignStatus | None, Query(description="Only the campaigns in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
) -> Response[CampaignPage]:
    caller_of(app).require(ADMIN_SCOPE)
    now = clock.now()
    found, next_cursor = campaigns().listing(status, limit, cursor, now)
    usage = campaigns().usage(stored.campaign.campaign_id for stored in found if stored.status != DRAFT)
    items = [CampaignView.of(stored, usage.get(stored.campaign.campaign_id, Usage()), now) for stored in found]
    return json_response(200, CampaignPage(items=items, next_cursor=next_cursor))


@app.get(
    "/v1/campaigns/<campaign_id>", tags=["campaigns"], summary="A campaign, with its counters",
    description="`points_awarded` and `times_applied` count every purchase it applied to so far.",
    responses={200: documented("The campaign", CampaignView), 404: UNKNOWN},
)
def get_campaign(campaign_id: CampaignId) -> Response[CampaignView]:
    caller_of(app).require(ADMIN_SCOPE)
    stored = campaigns().get(campaign_id)
    if stored is None:
        raise errors.CampaignNotFound(f"no campaign {campaign_id}")
    return _view(stored)


@app.put(
    "/v1/campaigns/<campaign_id>", tags=["campaigns"], summary="Replace a draft campaign",
    description="The body is the whole document; the path names the campaign. Once active it is frozen.",
    responses={200: documented("Replaced", CampaignView), 404: UNKNOWN,
               409: documented("CAMPAIGN_NOT_EDITABLE: it is active or ended; end it and create another"), 422: INVALID},
)
def replace_campaign(campaign_id: CampaignId, body: CampaignDocument) -> Response[CampaignView]:
    caller_of(app).require(ADMIN_SCOPE)
    campaign = _with_known_segments(body.campaign(programs().newest_naming(body.named_tiers()), campaign_id))
    return json_response(200, CampaignView.of(campaigns().replace(campaign), Usage(), clock.now()))


@app.post(
    "/v1/campaigns/<campaign_id>/activate", tags=["campaigns"], summary="Activate a draft campaign",
    description="It applies from its starts_at (or at once) until it is ended or its ends_at passes. "
                "Active already: the same answer.",
    responses={200: documented("Active", CampaignView), 404: UNKNOWN,
               409: documented("CAMPAIGN_NOT_EDITABLE: it has ended"),
               422: documented("VALIDATION_ERROR: its ends_at has passed, so it would never apply")},
)
def activate_campaign(campaign_id: CampaignId) -> Response[CampaignView]:
    caller_of(app).require(ADMIN_SCOPE)
    return _view(campaigns().activate(campaign_id, clock.now()))


@app.post(
    "/v1/campaigns/<campaign_id>/end", tags=["campaigns"], summary="End a campaign",
    description="It stops applying at once (functions that cache campaigns see it within 60 s). A draft may be "
                "ended too, so that it leaves the drafts. Ended already, or past its ends_at: the same answer.",
    responses={200: documented("Ended", CampaignView), 404: UNKNOWN},
)
def end_campaign(campaign_id: CampaignId) -> Response[CampaignView]:
    caller_of(app).require(ADMIN_SCOPE)
    return _view(campaigns().end(campaign_id, clock.now()))


SegmentId = Annotated[str, Path(pattern=SEGMENT_ID_PATTERN, description="A segment id.")]
NO_SEGMENT = documented("SEGMENT_NOT_FOUND")
INVALID_SEGMENT = documented("VALIDATION_ERROR: the document breaks a rule (an order.* fact, an unknown fact or op, "
                             "conditions nested deeper than 3 levels); `errors` names each field")


@app.post(
    "/v1/segments", tags=["segments"], summary="Define a segment (a rule over member facts)",
    responses={201: documented("Created", SegmentView), 409: documented("SEGMENT_EXISTS"), 422: INVALID_SEGMENT},
)
def create_segment(body: SegmentDocument) -> Response[SegmentView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(201, SegmentView.of(segments().create(body.segment())))


@app.get(
    "/v1/segments", tags=["segments"], summary="List segments, by id",
    responses={200: documented("A page of segments", SegmentPage), 400: documented("INVALID_CURSOR")},
)
def list_segments(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
) -> Response[SegmentPage]:
    caller_of(app).require(ADMIN_SCOPE)
    found, next_cursor = segments().listing(limit, cursor)
    return json_response(200, SegmentPage(items=[SegmentView.of(segment) for segment in found], next_cursor=next_cursor))


@app.get(
    "/v1/segments/<segment_id>", tags=["segments"], summary="A segment",
    responses={200: documented("The segment", SegmentView), 404: NO_SEGMENT},
)
def get_segment(segment_id: SegmentId) -> Response[SegmentView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, SegmentView.of(segments().get(segment_id)))


@app.put(
    "/v1/segments/<segment_id>", tags=["segments"], summary="Replace a segment",
    description="The body is the whole document; the path names the segment. Campaigns that use it follow within "
                "60 seconds.",
    responses={200: documented("Replaced", SegmentView), 404: NO_SEGMENT, 422: INVALID_SEGMENT},
)
def replace_segment(segment_id: SegmentId, body: SegmentDocument) -> Response[SegmentView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, SegmentView.of(segments().replace(body.segment(segment_id))))


@app.delete(
    "/v1/segments/<segment_id>", tags=["segments"], summary="Retire a segment",
    responses={200: documented("Retired", SegmentView), 404: NO_SEGMENT,
               409: documented("SEGMENT_IN_USE: an active campaign's audience names it")},
)
def retire_segment(segment_id: SegmentId) -> Response[SegmentView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, SegmentView.of(segments().retire(segment_id)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
