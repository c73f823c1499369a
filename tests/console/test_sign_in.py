"""The console's sign-in outside `make run`: the authorization code flow with PKCE against a hosted UI, played
here by routes of the browser on the console's own origin (the local CSP lets the page reach only that origin).
The hosted UI's side checks what Cognito checks: the challenge is S256 of the verifier the token request sends."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs, urlparse

CLIENT_ID = "console-client-id"


def test_the_console_signs_in_with_code_and_pkce_and_a_401_sends_it_to_sign_in_again(console, runtime):
    page = console.page
    authority = f"{runtime.api}/idp"
    seen: dict = {}

    page.route(f"{runtime.api}/console/config.json", lambda route: route.fulfill(
        content_type="application/json",
        body=json.dumps({"mode": "cognito", "api": "", "authority": authority, "client_id": CLIENT_ID})))

    def authorize(route):
        seen["authorize"] = parse_qs(urlparse(route.request.url).query)
        route.fulfill(content_type="text/html", body="<!doctype html><title>hosted UI</title><p>Sign in</p>")

    def token(route):
        seen["token"] = parse_qs(route.request.post_data)
        route.fulfill(content_type="application/json", body=json.dumps(
            {"access_token": runtime.token("admin"), "token_type": "Bearer", "expires_in": 3600}))

    at_authorize = re.compile(re.escape(f"{authority}/oauth2/authorize") + r"\?.*")
    page.route(at_authorize, authorize)
    page.route(f"{authority}/oauth2/token", token)

    page.goto(f"{runtime.api}/console/#/dashboard")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(at_authorize)
    asked = {key: values[0] for key, values in seen["authorize"].items()}
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["code_challenge_method"] == "S256" and "loyalty/admin" in asked["scope"].split()
    assert asked["redirect_uri"] == f"{runtime.api}/console/"

    page.goto(f"{asked['redirect_uri']}?code=the-code&state={asked['state']}")  # the hosted UI's redirect back
    page.wait_for_selector("body[data-ready='true']")
    sent = {key: values[0] for key, values in seen["token"].items()}
    assert sent["grant_type"] == "authorization_code" and sent["code"] == "the-code" and sent["client_id"] == CLIENT_ID
    assert sent["redirect_uri"] == asked["redirect_uri"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(sent["code_verifier"].encode()).digest()).rstrip(b"=").decode()
    assert challenge == asked["code_challenge"]  # what the hosted UI checks before it gives the tokens
    assert "code=" not in page.url and page.url.endswith("#/dashboard")  # the code does not stay in the address bar
    page.wait_for_selector("[data-kpi=enrollments]")  # the API answered with the token of the sign-in
    assert page.get_by_role("button", name="Sign out").is_visible()

    # a refused token (expired, revoked): the next call's 401 sends the console to the hosted UI again
    page.route(re.compile(re.escape(f"{runtime.api}/v1/reports/program") + r"\?.*"), lambda route: route.fulfill(
        status=401, content_type="application/json", body='{"message":"Unauthorized"}'))
    seen.pop("authorize")
    page.click("text=Show")
    page.wait_for_url(at_authorize)
    assert seen["authorize"]["state"][0] != asked["state"]  # a new flow, with a new state and verifier


def test_a_callback_whose_state_is_not_the_flow_s_is_refused(console, runtime):
    page = console.page
    page.route(f"{runtime.api}/console/config.json", lambda route: route.fulfill(
        content_type="application/json",
        body=json.dumps({"mode": "cognito", "api": "", "authority": f"{runtime.api}/idp", "client_id": CLIENT_ID})))
    tokens = []
    page.route(f"{runtime.api}/idp/oauth2/token", lambda route: tokens.append(route) or route.abort())
    page.goto(f"{runtime.api}/console/?code=stolen&state=forged")
    page.wait_for_selector("text=the state does not match")
    assert tokens == []  # a forged callback never reaches the token endpoint
