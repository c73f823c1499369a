"""Daily schedule: expire every lot past its date and remind members of points expiring soon."""

from aws_lambda_powertools import Logger

from loyalty import jobs

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event, context):
    now = jobs.scheduled_time(event)
    dispatched = jobs.dispatch(jobs.EXPIRE, now, jobs.sender())
    logger.info("expiry dispatched", extra={"now": now.isoformat(), "members": dispatched})
    return {"job": jobs.EXPIRE, "now": now.isoformat(), "members": dispatched}
