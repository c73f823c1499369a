"""Streams of the members and ledger tables -> domain events on the program's EventBridge bus."""

from aws_lambda_powertools import Logger

from loyalty import events
from loyalty.settings import PublisherSettings

logger = Logger()
publisher = events.Publisher.from_settings(PublisherSettings.from_environment())


@logger.inject_lambda_context
def lambda_handler(event, context):
    domain_events = events.from_stream(event.get("Records", []))
    publisher.publish(domain_events, logger.info)
    return {"published": len(domain_events)}
