"""GET /v1/rewards and POST /v1/members/{member_id}/redemptions: the catalog and spending points; the vouchers
redemptions hand out, checked and used at the till; cancelling a redemption whose voucher is unused."""

from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from loyalty.api.fields import IDEMPOTENCY_KEY_PATTERN, REDEMPTION_ID_PATTERN, RefusalBody
from loyalty.rewards.api import (
    VOUCHER_CODE_PATTERN, CancelResponse, RedemptionRequest, RedemptionResponse, RewardItem, RewardsPage,
    UseVoucherRequest, VoucherView,
)
from loyalty.api.tracing import traced
from loyalty.api.resolver import MemberId, caller_of, documented, json_response, logger, make_resolver
from loyalty.api.metrics import instance_metrics
from loyalty.core.platform import platform
from loyalty.domain import errors
from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE, POS_SCOPE
from loyalty.settings import CatalogSettings, ProgramVersionsSettings
from loyalty.store.clients import share_client
from loyalty.core.cache import Refreshed
from loyalty.core.composition import cold_start
from loyalty.core.directory import Directory
from loyalty.programs.store import cached_programs
from loyalty.rewards.store import RedemptionStore
from loyalty.rewards.use_cases import Catalog, Redemptions
from loyalty.store.ledger import Store

app = make_resolver()
metrics = instance_metrics()


@dataclass(frozen=True)
class Parts:
    """What this function uses, built once per instance."""

    store: Store
    directory: Directory
    redemptions: Redemptions


def compose() -> Parts:
    settings = CatalogSettings.from_environment()
    store = Store.from_settings(settings)
    redemption_store = RedemptionStore(store)
    catalog = Refreshed(redemption_store.rewards, settings.catalog_cache_seconds)  # at most 60 s old
    clock = platform().clock()
    versions, programs = cached_programs(ProgramVersionsSettings.from_environment(), clock)  # at most 60 s old
    share_client([*store.tables.models(), versions.model])
    redemptions = Redemptions(store, redemption_store, Catalog(catalog.get), clock, programs)
    return Parts(store, Directory(store), redemptions)


parts = cold_start(compose)


@app.get(
    "/v1/rewards", tags=["rewards"], summary="The active rewards catalog",
    description="For a member token, `available` also says whether the member's tier may redeem the reward.",
    responses={200: documented("The catalog, by reward id", RewardsPage)},
)
def list_rewards(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
) -> Response[RewardsPage]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    page = parts().redemptions.rewards_page(caller, limit, cursor)
    items = [RewardItem.of(reward, available) for reward, available in page.items]
    return json_response(200, RewardsPage(items=items, next_cursor=page.next_cursor))


@app.post(
    "/v1/members/<member_id>/redemptions", tags=["rewards"], summary="Spend points on a reward or a discount",
    description="Give reward_id (a catalog reward) or points (a discount worth points × point_value_minor). "
    "Idempotent on the Idempotency-Key header. The soonest-expiring points are spent first.",
    responses={
        200: documented("Replay of an earlier identical request", RedemptionResponse),
        201: documented("Redeemed", RedemptionResponse),
        403: documented("FORBIDDEN, or MEMBER_BLOCKED: the member is blocked", RefusalBody),
        404: documented("MEMBER_NOT_FOUND or REWARD_NOT_FOUND"),
        409: documented("IDEMPOTENCY_KEY_REUSED or OUT_OF_STOCK"),
        422: documented("VALIDATION_ERROR, INSUFFICIENT_POINTS or TIER_TOO_LOW"),
    },
)
def redeem(
    member_id: MemberId,
    body: RedemptionRequest,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)],
) -> Response[RedemptionResponse]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    try:
        outcome = parts().redemptions.redeem(
            caller, parts().directory.target(caller, member_id), idempotency_key=idempotency_key,
            payload=body.model_dump(mode="json"), reward_id=body.reward_id, points=body.points,
        )
    except errors.DomainError as failure:
        metrics.add_dimension(name="code", value=failure.code)  # this invocation's only metric
        metrics.add_metric(name="RedemptionFailures", unit=MetricUnit.Count, value=1)
        raise
    if not outcome.replayed:
        metrics.add_metric(name="PointsRedeemed", unit=MetricUnit.Count, value=-outcome.entry.points)
    return json_response(200 if outcome.replayed else 201, RedemptionResponse.of(outcome.entry))


@app.post(
    "/v1/members/<member_id>/redemptions/<redemption_id>/cancel", tags=["rewards"],
    summary="Cancel a redemption whose voucher is unused",
    description="Gives the points back to the lots they came from, except lots that have expired since (those points "
    "are forfeited: points_forfeited), returns the reward's stock and cancels the voucher, in one transaction. "
    "Idempotent: again, 200 with the same body. Allowed for a blocked member (it undoes a redemption).",
    responses={
        200: documented("Cancelled (or the replay of the cancel)", CancelResponse),
        404: documented("MEMBER_NOT_FOUND or REDEMPTION_NOT_FOUND"),
        409: documented("VOUCHER_ALREADY_USED (details: used_at, store_id)"),
    },
)
def cancel_redemption(
    member_id: MemberId,
    redemption_id: Annotated[str, Path(pattern=REDEMPTION_ID_PATTERN, description="The redemption_id the redemption answered.")],
) -> Response[CancelResponse]:
    caller = caller_of(app)
    caller.require(POS_SCOPE, ADMIN_SCOPE)
    outcome = parts().redemptions.cancel_redemption(caller, parts().directory.target(caller, member_id), redemption_id)
    if not outcome.replayed:
        metrics.add_metric(name="RedemptionsCancelled", unit=MetricUnit.Count, value=1)
        logger.info("redemption cancelled", extra={"member_id": outcome.entry.member_id, "redemption_id": redemption_id,
                                                   "by": caller.sub or caller.client_id})
    return json_response(200, CancelResponse.of(outcome.entry))


VoucherCode = Annotated[str, Path(pattern=VOUCHER_CODE_PATTERN, description="The code the redemption answered.")]


@app.get(
    "/v1/vouchers/<voucher_code>", tags=["vouchers"], summary="Check a voucher at the till",
    responses={200: documented("The voucher", VoucherView), 404: documented("VOUCHER_NOT_FOUND")},
)
def get_voucher(voucher_code: VoucherCode) -> Response[VoucherView]:
    caller_of(app).require(POS_SCOPE, ADMIN_SCOPE)
    return json_response(200, VoucherView.of(parts().redemptions.voucher(voucher_code)))


@app.post(
    "/v1/vouchers/<voucher_code>/use", tags=["vouchers"], summary="Use a voucher, once",
    description="Exactly once, even from two tills at the same moment. The body is optional.",
    responses={200: documented("Used", VoucherView), 404: documented("VOUCHER_NOT_FOUND"),
               409: documented("VOUCHER_ALREADY_USED (details: used_at, store_id) or VOUCHER_CANCELLED")},
)
def use_voucher(
    voucher_code: VoucherCode, body: Annotated[UseVoucherRequest | None, Body()] = None,
) -> Response[VoucherView]:
    caller_of(app).require(POS_SCOPE, ADMIN_SCOPE)
    voucher = parts().redemptions.use_voucher(voucher_code, body.store_id if body else None)
    return json_response(200, VoucherView.of(voucher))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
