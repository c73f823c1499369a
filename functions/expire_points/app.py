"""Daily schedule: expire every lot past its date and remind members of points expiring soon."""

from aws_lambda_powertools import Logger

from loyalty import jobs

logger = Logger()
dispatcher = jobs.Dispatcher.from_environment()


@logger.inject_lambda_context
def lambda_handler(event, context):
    return dispatcher.run_scheduled(jobs.EXPIRE, event, logger.info)
