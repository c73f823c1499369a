"""The Cognito pre-token-generation trigger (V2): email and email_verified in the access token, nothing else changed."""

from __future__ import annotations

import copy
import importlib.util
import json

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT, LambdaContext

_spec = importlib.util.spec_from_file_location("pre_token_app", ROOT / "functions" / "pre_token" / "app.py")
pre_token = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pre_token)

SAMPLE = json.loads((ROOT / "events" / "pre-token-generation.json").read_text())


def _access_claims(result: dict) -> dict:
    return result["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["claimsToAddOrOverride"]


def test_the_sample_event_gets_the_verified_email_in_its_access_token():
    result = pre_token.lambda_handler(copy.deepcopy(SAMPLE), LambdaContext())
    assert _access_claims(result) == {"email": "ann@example.com", "email_verified": "true"}
    assert {key: value for key, value in result.items() if key != "response"} == {
        key: value for key, value in SAMPLE.items() if key != "response"}, "the request part goes back as it came"


def test_an_unverified_email_goes_in_marked_unverified_and_no_email_adds_nothing():
    event = copy.deepcopy(SAMPLE)
    event["request"]["userAttributes"]["email_verified"] = "false"
    assert _access_claims(pre_token.lambda_handler(event, LambdaContext())) == {
        "email": "ann@example.com", "email_verified": "false"}
    event = copy.deepcopy(SAMPLE)
    del event["request"]["userAttributes"]["email"]
    assert _access_claims(pre_token.lambda_handler(event, LambdaContext())) == {}


def test_what_another_trigger_already_set_is_kept():
    event = copy.deepcopy(SAMPLE)
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "idTokenGeneration": {"claimsToSuppress": ["x"]},
        "accessTokenGeneration": {"claimsToAddOrOverride": {"tenant": "eu", "email": "stale@example.com"},
                                  "scopesToAdd": ["extra"]},
    }
    details = pre_token.lambda_handler(event, LambdaContext())["response"]["claimsAndScopeOverrideDetails"]
    assert details["idTokenGeneration"] == {"claimsToSuppress": ["x"]}
    assert details["accessTokenGeneration"] == {
        "claimsToAddOrOverride": {"tenant": "eu", "email": "ann@example.com", "email_verified": "true"},
        "scopesToAdd": ["extra"]}


@given(email=st.emails(), verified=st.sampled_from(["true", "false", "TRUE", "", "1"]))
def test_only_the_string_true_marks_an_email_verified(email, verified):
    claims = pre_token.access_token_claims({"email": email, "email_verified": verified})
    assert claims == {"email": email, "email_verified": "true" if verified == "true" else "false"}


def test_the_admin_scope_of_the_console_s_sign_in_is_kept_only_for_the_back_office_group():
    event = copy.deepcopy(SAMPLE)
    event["request"]["scopes"] = ["openid", "email", "loyalty/admin"]
    access = pre_token.lambda_handler(copy.deepcopy(event), LambdaContext())["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]
    assert access["scopesToSuppress"] == ["loyalty/admin"]  # an app user signing in through the console gets no admin token
    event["request"]["groupConfiguration"]["groupsToOverride"] = ["back-office"]
    access = pre_token.lambda_handler(event, LambdaContext())["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]
    assert "scopesToSuppress" not in access
