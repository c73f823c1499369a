"""Member messages: consumes the message queue (the domain events that trigger a message, and MemberErased, by an
EventBridge rule) and sends each event's message once (docs/messages.md). A record whose sending failed for now is
reported as a batch item failure: SQS offers it again after its visibility timeout, then dead-letters it."""

import json
import os
from functools import cache

from aws_lambda_powertools import Logger

from loyalty.core.platform import platform
from loyalty.messages.compose import sending_from_settings
from loyalty.messages.settings import SendingSettings

logger = Logger()
clock = platform().clock()
sending = cache(lambda: sending_from_settings(SendingSettings.from_environment(), clock, platform().mail_sender()))
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # a function missing its configuration fails its cold start
    sending()


@logger.inject_lambda_context
def lambda_handler(event, context):
    failures = []
    for record in event.get("Records", []):
        try:
            envelope = json.loads(record["body"])
            outcome = sending().handle(envelope["detail-type"], envelope.get("detail") or {})
        except Exception:  # noqa: BLE001 - this record comes again; the others are done
            logger.exception("message not sent now; the queue offers it again", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        logger.info("message", extra={"detail_type": envelope["detail-type"], "result": outcome.result,
                                      "reason": outcome.reason, "event_id": (envelope.get("detail") or {}).get("event_id")})
    return {"batchItemFailures": failures}
