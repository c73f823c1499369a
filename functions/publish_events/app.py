"""Streams of the members and ledger tables -> domain events on the program's EventBridge bus, and the campaigns'
statistics of new earn entries.

Each stream record is handled on its own (powertools BatchProcessor): a record that fails is
reported in `batchItemFailures` and the stream delivers it again with those after it (consumers
drop duplicates by `event_id`; the statistics are added once per entry, under a marker); if every
record fails, the whole batch fails and is retried.
"""

from datetime import datetime, timezone

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from loyalty import events
from loyalty.core.platform import platform
from loyalty.settings import PublisherSettings

logger = Logger()
settings = PublisherSettings.from_environment()
publisher = events.Publisher.from_settings(settings, sink=platform().event_sink())
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
statistics = None
if settings.stats_table:
    from loyalty.campaigns.store import CampaignStatistics  # only with a statistics table to write

    statistics = CampaignStatistics.from_table(settings.stats_table, settings.aws_region,
                                               settings.aws_endpoint_url_dynamodb)


def _publish(record: DynamoDBRecord) -> None:
    entry = events.new_earn_entry(record)
    if statistics is not None and entry is not None:
        statistics.add(entry, datetime.now(timezone.utc))
    publisher.publish(events.from_record(record), logger.info)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=_publish, processor=processor, context=context)
