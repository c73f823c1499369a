"""GET /v1/program, /v1/members/{member_id} and its activity: what the program is and where a member stands."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths

from loyalty import service
from loyalty.api.models import ActivityItem, ActivityPage, MemberView
from loyalty.api.resolver import MemberId, caller_of, documented, json_response, logger, make_resolver, metrics, utc_now
from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE, POS_SCOPE
from loyalty.program import Program, get_program

app = make_resolver()


@app.get(
    "/v1/program", tags=["program"], summary="The program's published rules",
    responses={200: documented("Currency, earn rate, tiers, expiry, bonuses and point value", Program)},
)
def program() -> Response[Program]:
    caller_of(app).require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    return json_response(200, get_program())


@app.get(
    "/v1/members/<member_id>", tags=["members"], summary="A member's profile, balance, tier and expiring points",
    responses={200: documented("The member", MemberView), 404: documented("MEMBER_NOT_FOUND")},
)
def member(member_id: MemberId) -> Response[MemberView]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    found = service.member(caller, caller.target(member_id))
    return json_response(200, MemberView.of(found, get_program(), utc_now()))


@app.get(
    "/v1/members/<member_id>/activity", tags=["members"], summary="The member's ledger, newest first",
    responses={
        200: documented("A page of ledger entries", ActivityPage),
        400: documented("INVALID_CURSOR"),
        404: documented("MEMBER_NOT_FOUND"),
    },
)
def activity(
    member_id: MemberId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
) -> Response[ActivityPage]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    entries, next_cursor = service.activity(caller, caller.target(member_id), limit, cursor)
    return json_response(200, ActivityPage(items=[ActivityItem.of(entry) for entry in entries], next_cursor=next_cursor))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
