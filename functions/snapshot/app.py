"""Nightly: tonight's member-facts snapshot (every member's facts and segments into the analytics store), with the
personalised offers that started since the previous one announced to their members (OfferAvailable events on the
bus), then the RFM quintile boundaries from the newest complete snapshot. Locally `make snapshot` invokes it on
demand. The only function that reads the whole members table (paginated, off every request path)."""

from functools import partial

from aws_lambda_powertools import Logger

from loyalty.campaigns.store import CampaignStore
from loyalty.core.platform import platform
from loyalty.events import Publisher
from loyalty.insights.published import Published
from loyalty.insights.settings import SnapshotSettings, engine_from_settings
from loyalty.insights.snapshot_sinks import sink_from_settings
from loyalty.jobs.snapshot import FactsSnapshot
from loyalty.jobs.snapshot_store import MemberPages
from loyalty.messages.offer_announcements import active_campaigns, one_at_a_time
from loyalty.messages.settings import OfferAnnouncementSettings
from loyalty.programs.store import cached_programs
from loyalty.segments.store import SegmentStore
from loyalty.settings import ProgramVersionsSettings

logger = Logger()


def compose() -> FactsSnapshot:
    settings = SnapshotSettings.from_environment()
    clock = platform().clock()
    region, endpoint = settings.aws_region, settings.aws_endpoint_url_dynamodb
    _, programs = cached_programs(ProgramVersionsSettings.from_environment(), clock)
    segments = SegmentStore.from_table(settings.catalog_table, region, endpoint)
    bus = OfferAnnouncementSettings.from_environment()
    sink = platform().event_sink()  # several batches publish at once: a sink (the local file) takes one at a time
    publisher = Publisher(bus.event_bus_name, region=bus.aws_region, sink=one_at_a_time(sink) if sink else None)
    return FactsSnapshot(MemberPages.from_table(settings.members_table, region, endpoint), segments.all,
                         sink_from_settings(settings), Published.from_table(settings.catalog_table, region, endpoint),
                         clock, programs, engine_from_settings(settings), scan_segments=settings.snapshot_scan_segments,
                         campaigns=partial(active_campaigns, CampaignStore.from_table(settings.catalog_table, region, endpoint)),
                         publish=lambda events: publisher.publish(events, logger.info),
                         publish_workers=bus.offer_publish_workers)


snapshot = compose()


@logger.inject_lambda_context
def lambda_handler(event, context):
    result = snapshot.run()
    logger.info("member-facts snapshot taken", extra=result)
    return result
