"""A member token enrolls (or changes to) only the e-mail its token proves: the `email` claim with
`email_verified` "true" (API Gateway passes every claim as a string), put in the access token by the
pre-token-generation trigger. Otherwise 403 EMAIL_NOT_VERIFIED and nothing written; staff enroll any e-mail."""

from __future__ import annotations

import pytest

from tests.conftest import call, http_event
from tests.functional.helpers import ADMIN, MEMBER, POS, enroll, table_items
from tests.functional.test_profile import patch


@pytest.fixture(autouse=True)
def _tables(tables):
    yield


def _enroll_with_claims(email: str, claims: dict[str, str]):
    event = http_event("POST", "/v1/members", body={"email": email}, scopes=MEMBER, sub="app-user-1")
    event["requestContext"]["authorizer"]["jwt"]["claims"].update(claims)
    return call("enroll", event)


@pytest.mark.parametrize("claims", [
    {},  # no e-mail claim at all (a token minted without the trigger)
    {"email": "ann@example.com"},  # not said to be verified
    {"email": "ann@example.com", "email_verified": "false"},
    {"email": "ann@example.com", "email_verified": ""},
    {"email": "ann@example.com", "email_verified": "yes"},
    {"email": "mallory@example.com", "email_verified": "true"},  # verified, but another address
    {"email": "", "email_verified": "true"},
    {"email_verified": "true"},
], ids=repr)
def test_a_member_token_that_does_not_prove_the_email_is_refused_and_writes_nothing(claims):
    before = table_items()
    reply = _enroll_with_claims("ann@example.com", claims)
    assert (reply.status, reply["code"]) == (403, "EMAIL_NOT_VERIFIED"), reply.body
    assert table_items() == before


@pytest.mark.parametrize("verified", ["true", "TRUE", "True"])
def test_a_member_token_enrolls_the_email_it_proves_in_any_case(verified):
    reply = _enroll_with_claims("Ann@Example.com", {"email": "ann@EXAMPLE.com", "email_verified": verified})
    assert reply.status == 201, reply.body


def test_the_squatting_the_issue_found_is_refused_and_the_real_customer_enrolls_at_the_till():
    squat = enroll("customer@example.com", scopes=MEMBER, sub="squatter", proves="squatter@example.com")
    assert (squat.status, squat["code"]) == (403, "EMAIL_NOT_VERIFIED")
    assert enroll("customer@example.com", scopes=POS).status == 201


@pytest.mark.parametrize("scopes", [POS, ADMIN])
def test_staff_enroll_any_email_whatever_their_token_holds(scopes):
    event = http_event("POST", "/v1/members", body={"email": "walk-in@example.com"}, scopes=scopes, sub="staff-1",
                       verified_email="staff@example.com")
    assert call("enroll", event).status == 201


def test_a_member_changes_its_email_only_to_the_one_its_token_proves():
    member_id = enroll("ann@example.com", scopes=MEMBER, sub="ann-sub")["member_id"]
    before = table_items()
    for proved in (None, "ann@example.com", "other@example.com"):
        reply = patch("me", {"email": "ann.new@example.com", "name": "Ann"}, scopes=MEMBER, sub="ann-sub",
                      verified_email=proved)
        assert (reply.status, reply["code"]) == (403, "EMAIL_NOT_VERIFIED"), reply.body
    assert table_items() == before, "nothing written, the name neither"
    reply = patch("me", {"email": "Ann.New@example.com"}, scopes=MEMBER, sub="ann-sub", verified_email="ann.new@example.com")
    assert reply.status == 200 and reply["member_id"] == member_id and reply["email"] == "ann.new@example.com"
    # other fields need no proof; staff change the e-mail to any
    assert patch("me", {"name": "Ann B."}, scopes=MEMBER, sub="ann-sub").status == 200
    assert patch(member_id, {"email": "ann.c@example.com"}, scopes=ADMIN, sub="admin-1")["email"] == "ann.c@example.com"
