"""POST /v1/members: enroll a member; PATCH /v1/members/{member_id}: update a profile; POST .../block and /unblock:
stop or allow a member's earning and redeeming."""

from dataclasses import dataclass
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from loyalty.api.fields import RefusalBody
from loyalty.api.tracing import traced
from loyalty.api.resolver import MemberId, caller_of, documented, json_response, logger, make_resolver
from loyalty.api.metrics import instance_metrics
from loyalty.core.platform import platform
from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE, POS_SCOPE
from loyalty.members.api import BlockRequest, EnrollRequest, EnrollResponse, MemberView, ProfileRequest, default_channel
from loyalty.privacy.api import ErasureView
from loyalty.settings import ApiSettings, EmailHashSettings, ProgramVersionsSettings
from loyalty.core.composition import cold_start
from loyalty.core.directory import Directory
from loyalty.core.email_hash import EmailHasher
from loyalty.members.store import MemberStore
from loyalty.members.use_cases import Members
from loyalty.privacy.store import PrivacyStore
from loyalty.privacy.use_cases import Privacy
from loyalty.programs.store import cached_programs
from loyalty.store.clients import share_client
from loyalty.store.ledger import Store

app = make_resolver()
metrics = instance_metrics()


@dataclass(frozen=True)
class Parts:
    """What this function uses, built once per instance."""

    store: Store
    directory: Directory
    members: Members
    privacy: Privacy


def compose() -> Parts:
    settings = ApiSettings.from_environment()
    email_hash = EmailHasher.from_settings(EmailHashSettings.from_environment())  # the key itself is read on first use
    store, clock = Store.from_settings(settings), platform().clock()
    versions, programs = cached_programs(ProgramVersionsSettings.from_environment(), clock)  # at most 60 s old
    share_client([*store.tables.models(), versions.model])
    directory = Directory(store)
    return Parts(store, directory, Members(MemberStore(store), directory, clock, programs, email_hash),
                 Privacy(store, PrivacyStore(store), directory, clock, programs, email_hash))


parts = cold_start(compose)


@app.post(
    "/v1/members", tags=["members"], summary="Enroll a member",
    description="A member token links the new member to its subject (one member per account) and enrolls only the "
    "e-mail its token proves (`email` claim with `email_verified` true); pos and admin tokens enroll any e-mail. "
    "The welcome bonus is credited at once; the referral bonus on the first purchase.",
    responses={
        201: documented("Enrolled", EnrollResponse),
        403: documented("EMAIL_NOT_VERIFIED: a member token enrolls only the e-mail its token proves (its email claim "
                        "with email_verified true); or the token has none of the route's scopes (API Gateway's body, "
                        "`{\"message\": \"Forbidden\"}`), or FORBIDDEN", RefusalBody),
        409: documented("ALREADY_ENROLLED: the email, or the token's account, is already enrolled; to a pos or admin "
                        "token, details.member_id names the member holding the e-mail"),
        422: documented("VALIDATION_ERROR or INVALID_REFERRAL_CODE"),
    },
)
def enroll(body: EnrollRequest) -> Response[EnrollResponse]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    member = parts().members.enroll(
        caller, email=body.email, channel=body.channel or default_channel(caller),
        name=body.name, phone=body.phone, birthday=body.birthday, marketing_opt_in=body.marketing_opt_in,
        referral_code=body.referral_code, locale=body.locale,
    )
    metrics.add_metric(name="Enrollments", unit=MetricUnit.Count, value=1)
    logger.info("member enrolled", extra={"member_id": member.member_id, "channel": member.channel})
    return json_response(201, EnrollResponse.of(member))


@app.patch(
    "/v1/members/<member_id>", tags=["members"], summary="Update a profile and consent",
    description="Changes the fields given (unknown fields are ignored; null clears name, phone or birthday; at least "
    "one field). A new e-mail must be free (its uniqueness marker moves in the same transaction); a member token "
    "may change it only to the e-mail its token proves (`email` claim with `email_verified` true). A member sets their "
    "birthday once; pos and admin may correct it. marketing_opt_in changes are kept with their time and author. "
    "Blocked members may update their profile. Nothing changed: 200 with nothing written.",
    responses={
        200: documented("The member, updated", MemberView),
        403: documented("EMAIL_NOT_VERIFIED: a member token changes the e-mail only to the one its token proves; "
                        "or the token has none of the route's scopes (API Gateway's body, `{\"message\": \"Forbidden\"}`), "
                        "or FORBIDDEN", RefusalBody),
        404: documented("MEMBER_NOT_FOUND"),
        409: documented("ALREADY_ENROLLED: another member holds the e-mail (to a pos or admin token, details.member_id "
                        "names them), or BIRTHDAY_ALREADY_SET: a member token changing a birthday already set"),
    },
)
def update_profile(member_id: MemberId, body: ProfileRequest) -> Response[MemberView]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, POS_SCOPE, ADMIN_SCOPE)
    member = parts().members.update_profile(caller, parts().directory.target(caller, member_id), body.changes())
    # Names only: the values are personal data, kept out of the logs.
    logger.info("profile updated", extra={"member_id": member.member_id, "fields": sorted(body.changes())})
    return json_response(200, MemberView.of(member, parts().members.program, parts().members.clock.now()))


@app.post(
    "/v1/members/<member_id>/block", tags=["members"], summary="Block a member (admin)",
    description="While blocked, earning, redeeming and credits answer 403 MEMBER_BLOCKED; reads and admin debits go "
    "on. Blocking a blocked member changes nothing and answers 200 with the member.",
    responses={200: documented("The member, blocked", MemberView), 404: documented("MEMBER_NOT_FOUND")},
)
def block(member_id: MemberId, body: BlockRequest) -> Response[MemberView]:
    caller = caller_of(app)
    caller.require(ADMIN_SCOPE)
    actor = caller.actor  # refused before anything is written when the token names no one
    member = parts().members.block(caller, parts().directory.target(caller, member_id), body.reason)
    logger.info("member blocked", extra={"member_id": member.member_id, "by": actor})
    return json_response(200, MemberView.of(member, parts().members.program, parts().members.clock.now()))


@app.post(
    "/v1/members/<member_id>/unblock", tags=["members"], summary="Unblock a member (admin)",
    description="Unblocking an active member changes nothing and answers 200 with the member.",
    responses={200: documented("The member, active", MemberView), 404: documented("MEMBER_NOT_FOUND")},
)
def unblock(member_id: MemberId) -> Response[MemberView]:
    caller = caller_of(app)
    caller.require(ADMIN_SCOPE)
    actor = caller.actor  # refused before anything is written when the token names no one
    member = parts().members.unblock(caller, parts().directory.target(caller, member_id))
    logger.info("member unblocked", extra={"member_id": member.member_id, "by": actor})
    return json_response(200, MemberView.of(member, parts().members.program, parts().members.clock.now()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)


@app.delete(
    "/v1/members/<member_id>", tags=["privacy"], summary="Erase a member's personal data (owner member, admin)",
    description="In one transaction: the profile's personal fields are removed, the e-mail, account and referral "
    "markers deleted, the balance forfeited with an `erase` ledger entry, and the member leaves the tier "
    "distribution. The same e-mail and account may then enroll again, as a new member. Erasing an erased member "
    "answers 200 with the same body (by id: an erased member is no account's \"me\" any more).",
    responses={200: documented("Erased", ErasureView), 404: documented("MEMBER_NOT_FOUND")},
)
def erase(member_id: MemberId) -> Response[ErasureView]:
    caller = caller_of(app)
    caller.require(MEMBER_SCOPE, ADMIN_SCOPE)
    member = parts().privacy.erase(caller, member_id)
    logger.info("member erased", extra={"member_id": member.member_id})
    return json_response(200, ErasureView(member_id=member.member_id, erased_at=member.erased_at))
