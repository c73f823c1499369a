"""GET /v1/program, /v1/members/{member_id} and its activity, /v1/reports/program: the program, a member, the KPIs."""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths

from loyalty.api.fields import Email
from loyalty.facts.api import FactsView
from loyalty.facts.use_cases import Facts, HoldoutCampaign
from loyalty.programs.api import ProgramInForceView
from loyalty.insights.published import Published, cached_rfm
from loyalty.segments.store import SegmentStore
from loyalty.members.api import ActivityItem, ActivityPage, MemberSearchPage, MemberView
from loyalty.privacy.api import MemberExportView
from loyalty.reports.api import ProgramReportView
from loyalty.api.tracing import traced
from loyalty.api.resolver import MemberId, caller_of, documented, json_response, logger, make_resolver
from loyalty.api.metrics import instance_metrics
from loyalty.core.platform import platform
from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE, POS_SCOPE
from loyalty.settings import ApiSettings, EmailHashSettings, ProgramVersionsSettings, PublishedCampaignsSettings
from loyalty.campaigns.store import CampaignStore
from loyalty.clock import Clock
from loyalty.core.cache import Refreshed
from loyalty.core.composition import cold_start
from loyalty.core.directory import Directory
from loyalty.core.email_hash import EmailHasher
from loyalty.members.store import MemberStore
from loyalty.members.use_cases import Members
from loyalty.privacy.store import PrivacyStore
from loyalty.privacy.use_cases import Privacy
from loyalty.core.programs import Programs
from loyalty.programs.store import cached_programs
from loyalty.reports.store import ReportStore
from loyalty.reports.use_cases import MAX_REPORT_DAYS, Reports
from loyalty.store.ledger import Store
from loyalty.store.clients import share_client

app = make_resolver()
metrics = instance_metrics()


@dataclass(frozen=True)
class Parts:
    """What this function uses, built once per instance."""

    store: Store
    published: CampaignStore  # GET /v1/program's campaigns
    active_campaigns: Refreshed
    segments: Refreshed  # the facts' segments, and the audiences' names GET /v1/program publishes
    clock: Clock
    programs: Programs  # the program's versions, at most 60 s old
    directory: Directory
    members: Members
    privacy: Privacy
    reports: Reports
    facts: Facts


def _message_log():
    """The export's message log: its store built on the first export, not at cold start."""
    from functools import cache

    from loyalty.messages.compose import store_from_settings
    from loyalty.messages.settings import MessageLogSettings

    settings = MessageLogSettings.from_environment()  # at cold start: a missing MESSAGES_TABLE fails it
    messages = cache(lambda: store_from_settings(settings))
    return lambda member_id: messages().member_log(member_id)


def compose() -> Parts:
    settings, published = ApiSettings.from_environment(), PublishedCampaignsSettings.from_environment()
    email_hash = EmailHasher.from_settings(EmailHashSettings.from_environment())  # read on the first lookup only
    store, clock = Store.from_settings(settings), platform().clock()
    campaigns = CampaignStore.from_table(published.catalog_table, published.aws_region, published.aws_endpoint_url_dynamodb)
    versions, programs = cached_programs(ProgramVersionsSettings.from_environment(), clock)
    share_client([*store.tables.models(), campaigns.model, versions.model])  # one botocore client, made on first use
    directory = Directory(store)
    active = Refreshed(campaigns.active, published.campaign_cache_seconds)
    segments = Refreshed(SegmentStore(campaigns.model).all, published.campaign_cache_seconds)  # the same table

    def holdouts() -> list[HoldoutCampaign]:
        return [HoldoutCampaign(campaign.campaign_id, campaign.holdout_percent) for campaign in active.get()
                if campaign.holdout_percent and (campaign.ends_at is None or campaign.ends_at > clock.now())]

    return Parts(
        store, campaigns, active, segments, clock, programs, directory,
        Members(MemberStore(store), directory, clock, programs, email_hash),
        Privacy(store, PrivacyStore(store), directory, clock, programs, email_hash, messages=_message_log()),
        Reports(ReportStore(store), clock, programs),
        Facts(directory, clock, programs, rfm=cached_rfm(Published(campaigns.model), clock, published.campaign_cache_seconds), holdouts=holdouts,
              segments=segments.get),
    )


parts = cold_start(compose)


@app.get(
    "/v1/program", tags=["program"], summary="The program's published rules",
    description="The version in force now, with its number and since when: every field a version carries, so that "
    "an admin can publish the next version (`POST /v1/program/versions`) by changing what it read.",
    responses={200: documented("Currency, earn rate, tiers, expiry, bonuses, point value, the version and the active "
                               "campaigns", ProgramInForceView)},
)
def program() -> Response[ProgramInForceView]:
    caller_of(app).require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    active = parts().active_campaigns.get()
    named = parts().segments.get() if any(campaign.audience for campaign in active) else []
    return json_response(200, ProgramInForceView.of_version(parts().programs.in_force(), active, parts().clock.now(), named))


@app.get(
    "/v1/members", tags=["members"], summary="Find a member by e-mail (pos, admin)",
    description="Case-insensitive, through the e-mail's uniqueness marker: two reads, never a scan.",
    responses={200: documented("The member with that e-mail, or no item", MemberSearchPage)},
)
def find_member(email: Annotated[Email, Query(description="The member's e-mail, in any case.")]) -> Response[MemberSearchPage]:
    caller = caller_of(app)
    caller.require(POS_SCOPE, ADMIN_SCOPE)
    found = parts().members.find_by_email(caller, email)
    items = [MemberView.of(found, parts().programs.current(), parts().clock.now())] if found else []
    return json_response(200, MemberSearchPage(items=items, next_cursor=None))


@app.get(
    "/v1/members/<member_id>", tags=["members"], summary="A member's profile, balance, tier and expiring points",
    responses={200: documented("The member", MemberView), 404: documented("MEMBER_NOT_FOUND")},
)
def member(member_id: MemberId) -> Response[MemberView]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    found = parts().directory.member(caller, member_id)
    return json_response(200, MemberView.of(found, parts().programs.current(), parts().clock.now()))


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
    from_: Annotated[date | None, Query(alias="from", description="first day, in the program's time zone")] = None,
    to: Annotated[date | None, Query(description="last day, included")] = None,
) -> Response[ActivityPage]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    entries, next_cursor = parts().members.activity(caller, member_id, limit, cursor, from_, to)
    return json_response(200, ActivityPage(items=[ActivityItem.of(entry, staff_view=caller.is_staff) for entry in entries], next_cursor=next_cursor))


@app.get(
    "/v1/members/<member_id>/facts", tags=["members"], summary="The facts segments and campaigns are evaluated on",
    description="Computed from the member item alone (one read): the 90-day figures slide with the clock. An admin "
    "token also sees `held_out` per active campaign with a holdout; a member or pos token never does.",
    responses={200: documented("The member's facts and segments", FactsView), 404: documented("MEMBER_NOT_FOUND")},
)
def member_facts(member_id: MemberId) -> Response[FactsView]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    return json_response(200, FactsView.of(parts().facts.of(caller, member_id)))


@app.get(
    "/v1/reports/program", tags=["reports"], summary="Program KPIs for a date range",
    description="Figures come from counters kept in the same transactions as the ledger: the cost grows with "
    f"the days in the range, never with members or ledger size. At most {MAX_REPORT_DAYS} days. "
    "Send `Accept: text/csv` for one row per day plus a totals row.",
    responses={
        200: {"description": "The report", "content": {
            "application/json": {"model": ProgramReportView}, "text/csv": {"schema": {"type": "string"}},
        }},
        422: documented("VALIDATION_ERROR or INVALID_RANGE"),
    },
)
def program_report(
    from_: Annotated[date, Query(alias="from", description="first day, in the program's time zone")],
    to: Annotated[date, Query(description="last day, included")],
):  # no return annotation: the body is JSON or CSV (documented in `responses`), not one model to validate
    caller_of(app).require(ADMIN_SCOPE)
    report = ProgramReportView.of(parts().reports.program_report(from_, to), parts().programs.current())
    if "text/csv" in app.current_event.headers.get("accept", ""):
        return Response(status_code=200, content_type="text/csv; charset=utf-8", body=report.to_csv())
    return Response(status_code=200, content_type="application/json", body=report.model_dump(mode="json", by_alias=True))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)


@app.get(
    "/v1/members/<member_id>/export", tags=["privacy"], summary="Everything held about a member (owner member, admin)",
    description="The member item's every field, the consent history, every ledger entry (newest first) and the "
    "vouchers of its redemptions, in one document. An erased member answers 404.",
    responses={200: documented("The member's data", MemberExportView), 404: documented("MEMBER_NOT_FOUND")},
)
def export(member_id: MemberId) -> Response[MemberExportView]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, ADMIN_SCOPE)
    exported = parts().privacy.export(caller, member_id)
    logger.info("member exported", extra={"member_id": exported.member.member_id, "entries": len(exported.entries)})
    return json_response(200, MemberExportView.of(exported, parts().programs.current(), parts().clock.now(), staff_view=caller.is_staff))
