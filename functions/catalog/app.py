"""The back office's catalog (admin): POST /v1/rewards, PUT and DELETE /v1/rewards/{reward_id}, and
POST /v1/rewards/{reward_id}/stock. The functions serving rewards see a change within their cache's 60 s."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths

from loyalty.api.metrics import instance_metrics
from loyalty.api.fields import REWARD_ID_PATTERN
from loyalty.api.tracing import traced
from loyalty.api.resolver import caller_of, documented, json_response, logger, make_resolver
from loyalty.domain.access import ADMIN_SCOPE
from loyalty.rewards.api import RewardCreate, RewardFields, RewardView, StockChange, StockView
from loyalty.core.composition import cold_start
from loyalty.core.platform import platform
from loyalty.programs.store import cached_programs
from loyalty.rewards.admin import CatalogAdmin
from loyalty.rewards.catalog_store import RewardStore
from loyalty.settings import ProgramVersionsSettings, RewardAdminSettings
from loyalty.store.clients import share_client

app = make_resolver()
metrics = instance_metrics()


def compose() -> CatalogAdmin:
    settings = RewardAdminSettings.from_environment()
    rewards = RewardStore.from_settings(settings)
    versions, programs = cached_programs(ProgramVersionsSettings.from_environment(), platform().clock())  # its tiers
    share_client([rewards.model, versions.model])
    return CatalogAdmin(rewards, programs)


catalog = cold_start(compose)

RewardId = Annotated[str, Path(pattern=REWARD_ID_PATTERN, description="A reward id.")]
UNKNOWN = documented("REWARD_NOT_FOUND")


@app.post(
    "/v1/rewards", tags=["catalog"], summary="Create a reward",
    description="`stock` null is unlimited, for good: stock changes apply only to a counted stock.",
    responses={201: documented("Created", RewardView), 409: documented("REWARD_EXISTS"),
               422: documented("VALIDATION_ERROR, or UNKNOWN_TIER: min_tier is not a tier of the newest program version")},
)
def create_reward(body: RewardCreate) -> Response[RewardView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(201, RewardView.of(catalog().create(body.reward(body.reward_id))))


@app.put(
    "/v1/rewards/<reward_id>", tags=["catalog"], summary="Replace a reward (all but its stock)",
    responses={200: documented("Replaced", RewardView), 404: UNKNOWN,
               422: documented("VALIDATION_ERROR, or UNKNOWN_TIER: min_tier is not a tier of the newest program version")},
)
def replace_reward(reward_id: RewardId, body: RewardFields) -> Response[RewardView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, RewardView.of(catalog().replace(body.reward(reward_id))))


@app.delete(
    "/v1/rewards/<reward_id>", tags=["catalog"], summary="Retire a reward",
    description="Sets `active` to false; past redemptions keep pointing at it. Again: the same answer.",
    responses={200: documented("Retired", RewardView), 404: UNKNOWN},
)
def retire_reward(reward_id: RewardId) -> Response[RewardView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, RewardView.of(catalog().retire(reward_id)))


@app.post(
    "/v1/rewards/<reward_id>/stock", tags=["catalog"], summary="Change a reward's stock by a delta",
    description="Atomic; the stock never goes below zero.",
    responses={200: documented("The new stock", StockView), 404: UNKNOWN,
               409: documented("OUT_OF_STOCK: fewer left than taken off, or STOCK_UNLIMITED: the stock is unlimited")},
)
def change_stock(reward_id: RewardId, body: StockChange) -> Response[StockView]:
    caller_of(app).require(ADMIN_SCOPE)
    reward = catalog().change_stock(reward_id, body.delta)
    return json_response(200, StockView(reward_id=reward.reward_id, stock=reward.stock))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
