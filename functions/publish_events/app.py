"""Streams of the members and ledger tables -> domain events on the program's EventBridge bus.

Each stream record is published on its own (powertools BatchProcessor): a record that fails is
reported in `batchItemFailures` and the stream delivers it again with those after it (consumers
drop duplicates by `event_id`); if every record fails, the whole batch fails and is retried.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from loyalty import events
from loyalty.core.platform import platform
from loyalty.settings import PublisherSettings

logger = Logger()
publisher = events.Publisher.from_settings(PublisherSettings.from_environment(), sink=platform().event_sink())
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _publish(record: DynamoDBRecord) -> None:
    publisher.publish(events.from_record(record), logger.info)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=_publish, processor=processor, context=context)
