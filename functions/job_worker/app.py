"""Job queue consumer: applies a batch of members' expiry, tier review or birthday bonus, or the report counters'
roll-up; failed messages are retried alone."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from loyalty.jobs import batches as jobs
from loyalty.jobs.use_cases import ScheduledJobs
from loyalty.programs.store import cached_programs
from loyalty.store.clients import share_client
from loyalty.reports.store import ReportStore
from loyalty.reports.use_cases import Reports
from loyalty.store.ledger import Store
from loyalty.core.platform import platform
from loyalty.settings import ApiSettings, ProgramVersionsSettings

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def compose() -> jobs.Worker:
    settings = ApiSettings.from_environment()
    store, clock = Store.from_settings(settings), platform().clock()
    versions, programs = cached_programs(ProgramVersionsSettings.from_environment(), clock)  # at most 60 s old
    share_client([*store.tables.models(), versions.model])
    return jobs.Worker(ScheduledJobs(store, clock, programs), Reports(ReportStore(store), clock, programs))


worker = compose()


def _work(record) -> None:
    batch = jobs.Batch.from_json(record.body)
    result = worker.work(batch)
    if batch.job == jobs.EXPIRE:
        metrics.add_metric(name="PointsExpired", unit=MetricUnit.Count, value=result["points_expired"])
    elif batch.job == jobs.BIRTHDAY:
        metrics.add_metric(name="BirthdayBonuses", unit=MetricUnit.Count, value=result["changed"])
    elif batch.job == jobs.ROLLUP:
        metrics.add_metric(name="DaysRolledUp", unit=MetricUnit.Count, value=result["changed"])
    else:
        metrics.add_metric(name="TierChanges", unit=MetricUnit.Count, value=result["changed"])


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=_work, processor=processor, context=context)
