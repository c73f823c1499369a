"""Nightly: the RFM quintile boundaries from the newest complete member-facts snapshot, then tonight's snapshot
(every member's facts and segments into the analytics store). Locally `make snapshot` invokes it on demand.
The only function that reads the whole members table (paginated, off every request path)."""

from aws_lambda_powertools import Logger

from loyalty.core.platform import platform
from loyalty.insights.published import Published
from loyalty.insights.settings import SnapshotSettings, engine_from_settings
from loyalty.insights.snapshot_sinks import sink_from_settings
from loyalty.jobs.snapshot import FactsSnapshot
from loyalty.jobs.snapshot_store import MemberPages
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
    return FactsSnapshot(MemberPages.from_table(settings.members_table, region, endpoint), segments.all,
                         sink_from_settings(settings), Published.from_table(settings.catalog_table, region, endpoint),
                         clock, programs, engine_from_settings(settings), scan_segments=settings.snapshot_scan_segments)


snapshot = compose()


@logger.inject_lambda_context
def lambda_handler(event, context):
    result = snapshot.run()
    logger.info("member-facts snapshot taken", extra=result)
    return result
