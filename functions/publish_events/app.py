"""Streams of the members and ledger tables -> domain events on the program's EventBridge bus."""

from aws_lambda_powertools import Logger

from loyalty import events

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event, context):
    domain_events = events.from_stream(event.get("Records", []))
    events.publish(domain_events, logger.info)
    return {"published": len(domain_events)}
