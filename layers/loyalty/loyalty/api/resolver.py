"""The one resolver every API function uses: validation on, errors mapped to `{code, message}` in one place."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from loyalty.api.models import MEMBER_ID_PATTERN, ErrorBody
from loyalty.domain import errors
from loyalty.domain.access import Caller

logger = Logger()
metrics = Metrics()
# Reads and refusals publish no business metric; that is expected, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Codes the resolver itself produces (the domain's are in loyalty.domain.errors).
MALFORMED_JSON = "MALFORMED_JSON"
VALIDATION_ERROR = "VALIDATION_ERROR"
INTERNAL_ERROR = "INTERNAL_ERROR"

MemberId = Annotated[str, Path(pattern=MEMBER_ID_PATTERN, description='A member id, or "me" with a member token.')]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def error_response(status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["errors"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def json_response(status: int, model: BaseModel) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model.model_dump(mode="json"))


def _field_name(location: tuple) -> str:
    parts = [str(part) for part in location if part not in ("body",)]
    return ".".join(parts) or "body"


def make_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response:
        problems = error.errors()
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return error_response(400, MALFORMED_JSON, "the body is not valid JSON")
        details = [{"field": _field_name(tuple(p.get("loc", ()))), "message": p.get("msg", "invalid")} for p in problems]
        if any(problem.get("loc") == ("body",) and problem.get("type") == "model_attributes_type" for problem in problems):
            return error_response(400, MALFORMED_JSON, "the body must be a JSON object", details)
        return error_response(422, VALIDATION_ERROR, "the request is not valid", details)

    @app.exception_handler(errors.DomainError)
    def _domain_error(error: errors.DomainError) -> Response:
        if error.status >= 500:
            logger.warning("request not served", extra={"code": error.code, "reason": error.message})
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, INTERNAL_ERROR, "an unexpected error occurred; retrying the same request is safe")

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(404, "NOT_FOUND", "no such route")

    return app


def caller_of(app: APIGatewayHttpResolver) -> Caller:
    """The caller as API Gateway's JWT authorizer saw it. Ids in bodies are never trusted for authorization."""
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else {}
    scopes = set(str(claims.get("scope", "")).split())
    scopes.update((authorizer.jwt_scopes if authorizer else None) or [])
    return Caller(sub=claims.get("sub"), scopes=frozenset(scopes), client_id=claims.get("client_id"))


def documented(description: str, model: type[BaseModel] | None = None) -> dict[str, Any]:
    """An OpenAPI response entry: a body of `model`, or the error body when none is given."""
    return {"description": description, "content": {"application/json": {"model": model or ErrorBody}}}
