"""Build the webhook use cases from a function's settings (once per warm instance)."""

from __future__ import annotations

import json
from typing import Any

from loyalty.webhooks.settings import WebhookSettings


class SqsDeliveryQueue:
    def __init__(self, client, url: str) -> None:
        self.client, self.url = client, url

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=json.dumps(message), DelaySeconds=delay_seconds)

    def postpone(self, receipt_handle: str, seconds: int) -> None:
        self.client.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)


def webhooks_from_settings(settings: WebhookSettings, clock, deliverer: bool = False):
    import boto3

    from loyalty.settings import aws_client_config
    from loyalty.webhooks.addresses import AddressPolicy, system_resolver
    from loyalty.webhooks.secrets import KmsSecretBox
    from loyalty.webhooks.store import WebhookStore
    from loyalty.webhooks.usecases import Webhooks

    config = aws_client_config()
    region = settings.aws_region
    dynamodb = boto3.client("dynamodb", region_name=region, config=config,
                            endpoint_url=settings.aws_endpoint_url_dynamodb)
    sender = publish = None
    if deliverer:
        from loyalty.webhooks.delivery import HttpSender

        sender = HttpSender()
        publish = _publisher(settings)
    return Webhooks(
        store=WebhookStore(dynamodb, settings.webhooks_table),
        box=KmsSecretBox(boto3.client("kms", region_name=region, config=config), settings.webhook_secrets_key_id),
        clock=clock, policy=AddressPolicy.named(settings.webhook_url_policy), resolver=system_resolver,
        queue=SqsDeliveryQueue(boto3.client("sqs", region_name=region, config=config), settings.webhook_queue_url),
        sender=sender, publish=publish, max_subscriptions=settings.max_subscriptions)


def _publisher(settings: WebhookSettings):
    if not settings.event_bus_name:
        return None
    from loyalty.core.platform import platform
    from loyalty.events import DomainEvent, Publisher

    publisher = Publisher(settings.event_bus_name, region=settings.aws_region, sink=platform().event_sink())

    def publish(detail_type: str, detail: dict) -> None:
        publisher.publish([DomainEvent(detail_type, detail)], lambda message: None)

    return publish
