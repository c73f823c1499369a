"""POST /v1/members/{member_id}/earn (and its preview), /returns and /adjustments: credit a purchase, say what it
would credit, take back a refund, correct a balance."""

from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from loyalty.api.fields import IDEMPOTENCY_KEY_PATTERN, RefusalBody
from loyalty.api.tracing import traced
from loyalty.api.resolver import MemberId, caller_of, documented, json_response, logger, make_resolver
from loyalty.api.metrics import instance_metrics
from loyalty.core.platform import platform
from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE, POS_SCOPE
from loyalty.domain.model import BasketItem, Purchase
from loyalty.earning.api import (
    AdjustmentRequest, AdjustmentResponse, EarnPreview, EarnRequest, EarnResponse, ReturnRequest, ReturnResponse,
)
from loyalty.settings import EarnSettings, ProgramVersionsSettings
from loyalty.campaigns.store import CampaignStore
from loyalty.core.cache import Refreshed
from loyalty.core.composition import cold_start
from loyalty.core.directory import Directory
from loyalty.earning.store import EarnStore
from loyalty.earning.use_cases import Earning
from loyalty.offers.api import ActivationView, OfferPage, OfferView
from loyalty.offers.use_cases import Offers
from loyalty.programs.store import cached_programs
from loyalty.insights.published import Published, cached_rfm
from loyalty.segments.store import SegmentStore
from loyalty.store.ledger import Store
from loyalty.store.clients import share_client

app = make_resolver()
metrics = instance_metrics()
CampaignId = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$", description="A campaign id.")]


@dataclass(frozen=True)
class Parts:
    """What this function uses, built once per instance."""

    store: Store
    campaigns: CampaignStore
    directory: Directory
    earning: Earning
    offers: Offers


def compose() -> Parts:
    settings = EarnSettings.from_environment()
    store = Store.from_settings(settings)
    campaigns = CampaignStore.from_table(settings.catalog_table, settings.aws_region, settings.aws_endpoint_url_dynamodb)
    segment_store = SegmentStore(campaigns.model)  # the same table and client: pk "SEGMENT"
    clock = platform().clock()
    versions, programs = cached_programs(ProgramVersionsSettings.from_environment(), clock)  # at most 60 s old
    share_client([*store.tables.models(), campaigns.model, versions.model])  # one botocore client, made on first use
    active = Refreshed(campaigns.active, settings.campaign_cache_seconds)  # at most 60 s old
    segments = Refreshed(segment_store.all, settings.campaign_cache_seconds)
    directory = Directory(store)
    rfm = cached_rfm(Published(campaigns.model), clock, settings.campaign_cache_seconds)  # pk "ANALYTICS"
    earning = Earning(store, EarnStore(store), clock, programs, active.get, segments=segments.get, rfm=rfm)
    offers = Offers(store, EarnStore(store), directory, clock, programs, active.get, segments.get, rfm=rfm)
    return Parts(store, campaigns, directory, earning, offers)


parts = cold_start(compose)


def _purchase(body: EarnRequest) -> Purchase:
    return Purchase(
        transaction_id=body.transaction_id, amount_minor=body.amount_minor, currency=body.currency,
        occurred_at=body.occurred_at, store_id=body.store_id, channel=body.channel,
        items=tuple(BasketItem(item.sku, item.amount_minor, item.quantity, item.category) for item in body.items or ()),
    )


@app.post(
    "/v1/members/<member_id>/earn", tags=["points"], summary="Credit points for a purchase",
    description="Idempotent on transaction_id, forever: a replay answers 200 with the original result.",
    responses={
        200: documented("Replay of an earlier identical request", EarnResponse),
        201: documented("Credited", EarnResponse),
        403: documented("FORBIDDEN, or MEMBER_BLOCKED: the member is blocked", RefusalBody),
        404: documented("MEMBER_NOT_FOUND"),
        409: documented("IDEMPOTENCY_KEY_REUSED: this transaction_id was used with a different request"),
        422: documented("VALIDATION_ERROR, CURRENCY_MISMATCH or OCCURRED_AT_OUT_OF_RANGE"),
    },
)
def earn(member_id: MemberId, body: EarnRequest) -> Response[EarnResponse]:
    caller = caller_of(app)
    caller.require(POS_SCOPE, ADMIN_SCOPE)
    outcome = parts().earning.earn(
        caller, parts().directory.target(caller, member_id), _purchase(body), payload=body.model_dump(mode="json", exclude_none=True),
    )
    if not outcome.replayed:
        metrics.add_metric(name="PointsEarned", unit=MetricUnit.Count, value=outcome.entry.points)
    return json_response(200 if outcome.replayed else 201, EarnResponse.of(outcome.entry))


@app.post(
    "/v1/members/<member_id>/earn/preview", tags=["points"], summary="What an earn would credit, and why",
    description="Takes the earn body (no idempotency: transaction_id is not checked) and answers what an earn "
    "would credit now: points, base_points, breakdown, limited, and not_applied with the reason of every active "
    "campaign that would not apply. Writes nothing. A member token may preview its own member only. A blocked "
    "member gets 403 MEMBER_BLOCKED, as the earn would.",
    responses={
        200: documented("What the earn would credit", EarnPreview),
        403: documented("FORBIDDEN, or MEMBER_BLOCKED: the member is blocked", RefusalBody),
        404: documented("MEMBER_NOT_FOUND"),
        422: documented("VALIDATION_ERROR, CURRENCY_MISMATCH or OCCURRED_AT_OUT_OF_RANGE"),
    },
)
def preview(member_id: MemberId, body: EarnRequest) -> Response[EarnPreview]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    change = parts().earning.preview(caller, parts().directory.target(caller, member_id), _purchase(body))
    return json_response(200, EarnPreview.of(change.entry, change.award.not_applied if change.award else ()))


@app.post(
    "/v1/members/<member_id>/returns", tags=["points"], summary="Take back points for a refund",
    description="Takes back points in proportion to the refunded share of the purchase; idempotent on return_id. "
    "The balance never goes below zero: what it cannot cover is recorded as points_unrecovered.",
    responses={
        200: documented("Replay of an earlier identical request", ReturnResponse),
        201: documented("Taken back", ReturnResponse),
        404: documented("MEMBER_NOT_FOUND or TRANSACTION_NOT_FOUND"),
        409: documented("IDEMPOTENCY_KEY_REUSED"),
        422: documented("VALIDATION_ERROR or REFUND_EXCEEDS_PURCHASE"),
    },
)
def return_purchase(member_id: MemberId, body: ReturnRequest) -> Response[ReturnResponse]:
    caller = caller_of(app)
    caller.require(POS_SCOPE, ADMIN_SCOPE)
    outcome = parts().earning.return_purchase(
        caller, parts().directory.target(caller, member_id), transaction_id=body.transaction_id,
        return_id=body.return_id, amount_minor=body.amount_minor, payload=body.model_dump(mode="json"),
    )
    if not outcome.replayed:
        metrics.add_metric(name="PointsReturned", unit=MetricUnit.Count, value=-outcome.entry.points)
    return json_response(200 if outcome.replayed else 201, ReturnResponse.of(outcome.entry))


@app.post(
    "/v1/members/<member_id>/adjustments", tags=["points"], summary="Credit or debit points with a reason (admin)",
    description="Idempotent on the Idempotency-Key header, forever. A credit goes into a lot expiring like points "
    "earned now and counts in the report's points_issued (not in tier qualifying points); a debit takes the "
    "soonest-expiring points first and counts in points_debited. A blocked member may be debited, not credited.",
    responses={
        200: documented("Replay of an earlier identical request", AdjustmentResponse),
        201: documented("Adjusted", AdjustmentResponse),
        403: documented("FORBIDDEN, or MEMBER_BLOCKED: a credit to a blocked member", RefusalBody),
        404: documented("MEMBER_NOT_FOUND"),
        409: documented("IDEMPOTENCY_KEY_REUSED: this key was used with a different request"),
        422: documented("VALIDATION_ERROR, or INSUFFICIENT_POINTS: a debit larger than the balance"),
    },
)
def adjust(
    member_id: MemberId,
    body: AdjustmentRequest,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)],
) -> Response[AdjustmentResponse]:
    caller = caller_of(app)
    caller.require(ADMIN_SCOPE)
    outcome = parts().earning.adjust(
        caller, parts().directory.target(caller, member_id), idempotency_key=idempotency_key, points=body.points, reason=body.reason,
        payload=body.model_dump(mode="json"),
    )
    if not outcome.replayed:
        metrics.add_metric(name="PointsAdjusted", unit=MetricUnit.Count, value=outcome.entry.points)
    return json_response(200 if outcome.replayed else 201, AdjustmentResponse.of(outcome.entry))


@app.get(
    "/v1/members/<member_id>/offers", tags=["offers"], summary="The campaigns this member can benefit from now",
    description="Active or scheduled campaigns whose audience includes the member, that do not hold it out, with "
                "room left in their limits for it, soonest ending first. At most two DynamoDB round trips.",
    responses={200: documented("The member's offers", OfferPage), 404: documented("MEMBER_NOT_FOUND")},
)
def member_offers(member_id: MemberId) -> Response[OfferPage]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    found = parts().offers.list(caller, member_id)
    return json_response(200, OfferPage(items=[OfferView.of(offer) for offer in found], next_cursor=None))


@app.post(
    "/v1/members/<member_id>/offers/<campaign_id>/activate", tags=["offers"],
    summary="Opt in to an offer that requires activation",
    description="Idempotent: activating again answers the first activation's time. An `OfferActivated` event follows.",
    responses={200: documented("Activated", ActivationView), 404: documented("MEMBER_NOT_FOUND or OFFER_NOT_FOUND"),
               409: documented("CAMPAIGN_ENDED: its ends_at has passed")},
)
def activate_offer(member_id: MemberId, campaign_id: CampaignId) -> Response[ActivationView]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    activated_at = parts().offers.activate(caller, member_id, campaign_id)
    return json_response(200, ActivationView(campaign_id=campaign_id, activated_at=activated_at))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
