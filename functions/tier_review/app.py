"""Monthly schedule: review the tier of every member above the base tier."""

from aws_lambda_powertools import Logger

from loyalty import jobs

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event, context):
    now = jobs.scheduled_time(event)
    dispatched = jobs.dispatch(jobs.REVIEW, now, jobs.sender())
    logger.info("tier review dispatched", extra={"now": now.isoformat(), "members": dispatched})
    return {"job": jobs.REVIEW, "now": now.isoformat(), "members": dispatched}
