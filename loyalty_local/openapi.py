"""The whole API's OpenAPI document, merged from every API function's powertools resolver.

`python -m loyalty_local.openapi --write openapi.json` regenerates the committed file;
`--check openapi.json` fails when it no longer matches the code (run by `make test`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from loyalty_local.template import ROOT, functions

TITLE = "Loyalty API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Enroll members, earn and return points, redeem rewards, read balances and history. "
    "Every route needs a JWT from the program's identity provider; the scopes loyalty/member, "
    "loyalty/pos and loyalty/admin decide what a caller may do. Errors are JSON with a stable `code`."
)


def _load_app(code_dir: Path, name: str):
    module_name = f"loyalty_openapi_{name}"
    spec = importlib.util.spec_from_file_location(module_name, code_dir / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module.app


POWERTOOLS_VALIDATION_SCHEMAS = {"HTTPValidationError", "ValidationError", "ResponseValidationError"}


def _use_error_body_for_validation(operation: dict[str, Any]) -> None:
    """Our resolver answers validation failures with the common error body, not powertools' default."""
    response = operation.get("responses", {}).get("422")
    ref = json.dumps(response or {})
    if response is None or "HTTPValidationError" in ref:
        operation.setdefault("responses", {})["422"] = {
            "description": "VALIDATION_ERROR",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }


RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 1}}
THROTTLED = {
    "description": "TOO_MANY_REQUESTS: over the route's throttling limits (its class's requests per second and burst); "
    "nothing was done. Wait the Retry-After seconds when given, else back off exponentially, then retry. API "
    "Gateway's own answer is `{\"message\": \"Too Many Requests\"}`, the local runtime's carries the code.",
    "headers": {"Retry-After": {**RETRY_AFTER, "required": False}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RefusalBody"}}},
}


def _add_limit_responses(operation: dict[str, Any]) -> None:
    """Every route may be throttled (429); a 503 says when to retry when it can (Retry-After)."""
    responses = operation.setdefault("responses", {})
    responses["429"] = THROTTLED
    if "503" in responses:
        responses["503"] = {**responses["503"], "headers": {"Retry-After": {**RETRY_AFTER, "required": False}}}
    operation["responses"] = dict(sorted(responses.items()))


def build_openapi() -> dict[str, Any]:
    """Each API function's resolver schema, with its routes' scopes, merged by powertools' OpenAPIMerge."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    merge = OpenAPIMerge(title=TITLE, version=VERSION, description=DESCRIPTION, security=[{"jwt": []}],
                         security_schemes={"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
                         on_conflict="error")  # two functions answering one route is a template error
    for spec in sorted(functions().values(), key=lambda spec: spec.logical_id):
        if not spec.routes:
            continue
        schema = json.loads(_load_app(spec.code_dir, spec.logical_id).get_openapi_json_schema(title=TITLE, version=VERSION))
        scopes = {(route.method, route.path): route.scopes for route in spec.routes}
        public = {(route.method, route.path) for route in spec.routes if route.public}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                required = scopes.get((method.upper(), path))
                if required:
                    operation["description"] = (
                        operation.get("description", "") + f"\n\nScopes (any of): {', '.join(required)}."
                    ).strip()
                    operation["x-function"] = spec.logical_id
                if (method.upper(), path) in public:  # no bearer token (Auth: {Authorizer: NONE})
                    operation["security"] = []
                    operation["x-function"] = spec.logical_id
                _use_error_body_for_validation(operation)
                _add_limit_responses(operation)
        merge.add_schema(schema)
    merged = merge.get_openapi_schema()
    schemas = merged["components"]["schemas"]
    return {  # in the committed file's order
        **{key: merged[key] for key in ("openapi", "info", "servers")},
        "paths": dict(sorted(merged["paths"].items())),
        "components": {"schemas": {name: schemas[name] for name in sorted(schemas) if name not in POWERTOOLS_VALIDATION_SCHEMAS},
                       "securitySchemes": merged["components"]["securitySchemes"]},
        "security": merged["security"],
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args(argv)
    text = render(build_openapi())
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write}")
        return 0
    path = args.check if args.check.is_absolute() else ROOT / args.check
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        print(f"{args.check} does not match the code: run `make openapi` and commit it", file=sys.stderr)
        return 1
    print(f"{args.check} matches the code")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
