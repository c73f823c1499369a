"""Webhook delivery: consumes the delivery queue (every domain event, by an EventBridge rule; and the retries,
tests and manual retries queued since). Reports the messages to keep as batch item failures: their visibility
has been set to their backoff, so SQS offers them again when their next attempt is due (docs/webhooks.md).
A subscription disabled after 24 h of failures is announced (WebhookDisabled) and counted (its alarm's metric)."""

import os
import warnings
from dataclasses import replace
from functools import cache

from aws_lambda_powertools import Logger

from loyalty.api.metrics import instance_metrics
from loyalty.core.platform import platform
from loyalty.webhooks.compose import webhooks_from_settings
from loyalty.webhooks.settings import WebhookSettings

logger = Logger()
warnings.filterwarnings("ignore", message="No application metrics to publish")  # most batches disable nothing
metrics = instance_metrics()
clock = platform().clock()


def _build():
    built = webhooks_from_settings(WebhookSettings.from_environment(), clock, deliverer=True)
    announce = built.publish

    def disabled(detail_type: str, detail: dict) -> None:
        logger.warning("webhook disabled after 24 h of failures", extra={"webhook_id": detail.get("webhook_id")})
        metrics.add_metric(name="WebhookDisabled", unit="Count", value=1)
        if announce is not None:
            announce(detail_type, detail)

    return replace(built, publish=disabled)


webhooks = cache(_build)
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    webhooks()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    failures = webhooks().handle_batch(event.get("Records", []))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
