"""Cognito pre-token-generation trigger (event version 2): puts the user's `email` and `email_verified` in the
access token, the token the HTTP API's JWT authorizer passes on. A member token enrolls (or changes its member
to) only the e-mail it proves this way (`email_verified` "true"), so an app user cannot take a customer's
address. Client-credentials tokens (tills, back office) never reach this trigger.

Cognito sends user attributes as strings ("true"/"false"); they go into the token unchanged.
"""

from __future__ import annotations

from typing import Any

VERIFIED_EMAIL_CLAIMS = ("email", "email_verified")
ADMIN_SCOPE, ADMIN_GROUP = "loyalty/admin", "back-office"  # the console's sign-in: admin only for the program team


def access_token_claims(user_attributes: dict[str, str]) -> dict[str, str]:
    """The claims to add: the e-mail and whether Cognito verified it; none when the user has no e-mail."""
    email = user_attributes.get("email")
    if not email:
        return {}
    return {"email": email, "email_verified": "true" if user_attributes.get("email_verified") == "true" else "false"}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    claims = access_token_claims((event.get("request") or {}).get("userAttributes") or {})
    response = event.setdefault("response", {})
    details = response.get("claimsAndScopeOverrideDetails") or {}
    access = details.setdefault("accessTokenGeneration", {})
    # Whatever else the token carries (another trigger's claims, scopes) is kept; only these two are set.
    access["claimsToAddOrOverride"] = {**(access.get("claimsToAddOrOverride") or {}), **claims}
    request = event.get("request") or {}
    groups = (request.get("groupConfiguration") or {}).get("groupsToOverride") or []
    if ADMIN_SCOPE in (request.get("scopes") or []) and ADMIN_GROUP not in groups:  # a user outside the team: no admin
        access["scopesToSuppress"] = sorted({*(access.get("scopesToSuppress") or []), ADMIN_SCOPE})
    response["claimsAndScopeOverrideDetails"] = details
    return event
