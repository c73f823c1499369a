"""Webhook subscriptions (admin): POST and GET /v1/webhooks, GET and DELETE /v1/webhooks/{webhook_id},
POST .../test, GET .../deliveries and POST .../deliveries/{delivery_id}/retry. Nothing is delivered here: a test
or a retry is queued for the deliver_webhooks function (docs/webhooks.md)."""

import os
from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths

from loyalty.api.metrics import instance_metrics
from loyalty.api.resolver import caller_of, documented, json_response, logger, make_resolver
from loyalty.api.tracing import traced
from loyalty.core.platform import platform
from loyalty.domain.access import ADMIN_SCOPE
from loyalty.webhooks.api import (
    DELIVERY_ID_PATTERN, WEBHOOK_ID_PATTERN, DeliveryPage, DeliveryView, WebhookCreated, WebhookPage, WebhookRequest,
    WebhookView,
)
from loyalty.webhooks.compose import webhooks_from_settings
from loyalty.webhooks.settings import WebhookSettings

app = make_resolver()
metrics = instance_metrics()
clock = platform().clock()
webhooks = cache(lambda: webhooks_from_settings(WebhookSettings.from_environment(), clock))
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # a function missing its configuration fails its cold start
    webhooks()

WebhookId = Annotated[str, Path(pattern=WEBHOOK_ID_PATTERN, description="A webhook id.")]
DeliveryId = Annotated[str, Path(pattern=DELIVERY_ID_PATTERN, description="A delivery id.")]
UNKNOWN = documented("WEBHOOK_NOT_FOUND")


@app.post(
    "/v1/webhooks", tags=["webhooks"], summary="Subscribe an endpoint to events",
    description="The answer carries the signing `secret`, shown this once. The URL is resolved and refused when any "
                "of its addresses is not public (private, loopback, link-local, metadata); again at each delivery.",
    responses={201: documented("Subscribed", WebhookCreated),
               409: documented("WEBHOOK_LIMIT_REACHED: remove a subscription first"),
               422: documented("WEBHOOK_URL_NOT_ALLOWED, or VALIDATION_ERROR")},
)
def subscribe(body: WebhookRequest) -> Response[WebhookCreated]:
    caller_of(app).require(ADMIN_SCOPE)
    subscription, secret = webhooks().subscribe(body.url, body.event_types, body.description)
    return json_response(201, WebhookCreated(**WebhookView.of(subscription).model_dump(), secret=secret))


@app.get(
    "/v1/webhooks", tags=["webhooks"], summary="List subscriptions",
    responses={200: documented("A page of subscriptions (never their secrets)", WebhookPage),
               400: documented("INVALID_CURSOR")},
)
def list_webhooks(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
) -> Response[WebhookPage]:
    caller_of(app).require(ADMIN_SCOPE)
    found, next_cursor = webhooks().store.page(limit, cursor)
    return json_response(200, WebhookPage(items=[WebhookView.of(s) for s in found], next_cursor=next_cursor))


@app.get(
    "/v1/webhooks/<webhook_id>", tags=["webhooks"], summary="A subscription",
    responses={200: documented("The subscription (never its secret)", WebhookView), 404: UNKNOWN},
)
def get_webhook(webhook_id: WebhookId) -> Response[WebhookView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, WebhookView.of(webhooks().get(webhook_id)))


@app.delete(
    "/v1/webhooks/<webhook_id>", tags=["webhooks"], summary="Remove a subscription",
    description="Its pending deliveries end `failed` when their turn comes; its log is kept 30 days.",
    responses={200: documented("Removed: the subscription as it was", WebhookView), 404: UNKNOWN},
)
def remove_webhook(webhook_id: WebhookId) -> Response[WebhookView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(200, WebhookView.of(webhooks().remove(webhook_id)))


@app.post(
    "/v1/webhooks/<webhook_id>/test", tags=["webhooks"], summary="Send a test event",
    description="Queues a `WebhookTest` event for this subscription alone; its delivery shows in the log.",
    responses={202: documented("Queued", DeliveryView), 404: UNKNOWN},
)
def test_webhook(webhook_id: WebhookId) -> Response[DeliveryView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(202, DeliveryView.of(webhooks().send_test(webhook_id)))


@app.get(
    "/v1/webhooks/<webhook_id>/deliveries", tags=["webhooks"], summary="The delivery log, newest first",
    responses={200: documented("A page of deliveries", DeliveryPage), 400: documented("INVALID_CURSOR"), 404: UNKNOWN},
)
def list_deliveries(
    webhook_id: WebhookId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
) -> Response[DeliveryPage]:
    caller_of(app).require(ADMIN_SCOPE)
    webhooks().get(webhook_id)
    found, next_cursor = webhooks().store.deliveries(webhook_id, limit, cursor)
    return json_response(200, DeliveryPage(items=[DeliveryView.of(d) for d in found], next_cursor=next_cursor))


@app.post(
    "/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/retry", tags=["webhooks"], summary="Deliver one again",
    description="Pending again from now, with a fresh 24 h of retries; queued for the deliverer.",
    responses={202: documented("Queued", DeliveryView), 404: documented("WEBHOOK_NOT_FOUND or DELIVERY_NOT_FOUND")},
)
def retry_delivery(webhook_id: WebhookId, delivery_id: DeliveryId) -> Response[DeliveryView]:
    caller_of(app).require(ADMIN_SCOPE)
    return json_response(202, DeliveryView.of(webhooks().retry(webhook_id, delivery_id)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
