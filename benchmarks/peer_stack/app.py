"""The peer, on the stack this project must use: pynamodb for the read, powertools' Tracer (X-Ray on)."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, Field
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

logger = Logger()
metrics = Metrics()
tracer = Tracer()
app = APIGatewayHttpResolver(enable_validation=True)


class MemberItem(Model):
    class Meta:
        table_name = os.environ.get("MEMBERS_TABLE", "MembersTable")
        region = os.environ.get("AWS_REGION", "us-east-1")

    pk = UnicodeAttribute(hash_key=True)
    tier = UnicodeAttribute()
    balance = NumberAttribute()


class Member(BaseModel):
    member_id: str = Field(min_length=1, max_length=128)
    tier: str
    balance: int = Field(ge=0)


@app.get("/v1/members/<member_id>")
def get_member(member_id: str) -> Member:
    try:
        item = MemberItem.get(f"M#{member_id}")
    except MemberItem.DoesNotExist:
        raise NotFoundError("member not found") from None
    return Member(member_id=member_id, tier=item.tier, balance=int(item.balance))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
