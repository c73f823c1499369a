"""GET /v1/rewards and POST /v1/members/{member_id}/redemptions: the catalog and spending points."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from loyalty import service
from loyalty.api.models import IDEMPOTENCY_KEY_PATTERN, RedemptionRequest, RedemptionResponse, RewardItem, RewardsPage
from loyalty.api.resolver import MemberId, caller_of, documented, json_response, logger, make_resolver, metrics, utc_now
from loyalty.domain import errors
from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE, POS_SCOPE
from loyalty.program import get_program

app = make_resolver()


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
    program = get_program()
    tier = service.caller_tier(caller, program)
    active = sorted((reward for reward in service.catalog() if reward.active), key=lambda reward: reward.reward_id)
    after = [reward for reward in active if cursor is None or reward.reward_id > cursor]
    page = after[:limit]
    next_cursor = page[-1].reward_id if len(after) > limit else None
    return json_response(200, RewardsPage(items=[RewardItem.of(r, program, tier) for r in page], next_cursor=next_cursor))


@app.post(
    "/v1/members/<member_id>/redemptions", tags=["rewards"], summary="Spend points on a reward or a discount",
    description="Give reward_id (a catalog reward) or points (a discount worth points × point_value_minor). "
    "Idempotent on the Idempotency-Key header. The soonest-expiring points are spent first.",
    responses={
        200: documented("Replay of an earlier identical request", RedemptionResponse),
        201: documented("Redeemed", RedemptionResponse),
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
        outcome = service.redeem(
            caller, get_program(), utc_now(), caller.target(member_id), idempotency_key=idempotency_key,
            payload=body.model_dump(mode="json"), reward_id=body.reward_id, points=body.points,
        )
    except errors.DomainError as failure:
        metrics.add_dimension(name="code", value=failure.code)  # this invocation's only metric
        metrics.add_metric(name="RedemptionFailures", unit=MetricUnit.Count, value=1)
        raise
    if not outcome.replayed:
        metrics.add_metric(name="PointsRedeemed", unit=MetricUnit.Count, value=-outcome.entry.points)
    return json_response(200 if outcome.replayed else 201, RedemptionResponse.of(outcome.entry))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
