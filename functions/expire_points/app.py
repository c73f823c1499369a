"""Daily schedule: expire every lot past its date, remind members of points expiring soon, credit the
birthday bonus to the members whose birthday it is, and roll up the report counters of the settled days
(three job kinds, one schedule, one replayable time)."""

from aws_lambda_powertools import Logger

from loyalty.jobs import batches as jobs

logger = Logger()
dispatcher = jobs.Dispatcher.from_environment()


@logger.inject_lambda_context
def lambda_handler(event, context):
    expiry = dispatcher.run_scheduled(jobs.EXPIRE, event, logger.info)
    birthdays = dispatcher.run_scheduled(jobs.BIRTHDAY, event, logger.info)
    dispatcher.run_scheduled(jobs.ROLLUP, event, logger.info)
    return {**expiry, "birthdays": birthdays["members"]}
