"""A peer for the cold-start ratio: a typical powertools + pydantic + boto3 handler, as the cookbooks write one.

One route that validates a path parameter and reads one DynamoDB item with a module-level boto3
client, with the usual Logger, Metrics and correlation id. Not product code: only measured.
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, Field

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
dynamodb = boto3.client("dynamodb")
TABLE = os.environ.get("MEMBERS_TABLE", "MembersTable")


class Member(BaseModel):
    member_id: str = Field(min_length=1, max_length=128)
    tier: str
    balance: int = Field(ge=0)


@app.get("/v1/members/<member_id>")
def get_member(member_id: str) -> Member:
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"M#{member_id}"}}).get("Item")
    if item is None:
        raise NotFoundError("member not found")
    return Member(member_id=member_id, tier=item["tier"]["S"], balance=int(item["balance"]["N"]))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
