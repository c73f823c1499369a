"""Monthly schedule: review the tier of every member above the base tier."""

from aws_lambda_powertools import Logger

from loyalty.jobs import batches as jobs

logger = Logger()
dispatcher = jobs.Dispatcher.from_environment()


@logger.inject_lambda_context
def lambda_handler(event, context):
    return dispatcher.run_scheduled(jobs.REVIEW, event, logger.info)
