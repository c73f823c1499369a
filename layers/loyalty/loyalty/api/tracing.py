"""X-Ray tracing of a handler with the powertools Tracer, when tracing is on.

Powertools turns its Tracer off outside Lambda and with POWERTOOLS_TRACE_DISABLED, but it imports the X-Ray SDK
either way: in Lambda about 15 ms of CPU, elsewhere (tests, the local runtime, tools) about 150 ms, as the SDK
then creates two botocore clients for its sampling rules. So the Tracer is built only when it will trace;
otherwise a handler stays as it is and the SDK is never imported. The template's XRayTracer parameter decides
(POWERTOOLS_TRACE_DISABLED); Lambda's own X-Ray segments (Tracing: Active) record every invocation either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_on(environ: Mapping[str, str] = os.environ) -> bool:
    """Powertools' own rule: in Lambda (LAMBDA_TASK_ROOT), not under SAM local, and not disabled by its variable."""
    if resolve_truthy_env_var_choice(env=environ.get("POWERTOOLS_TRACE_DISABLED", "false")):
        return False
    return bool(environ.get("LAMBDA_TASK_ROOT")) and not environ.get("AWS_SAM_LOCAL")


def traced(handler: Handler) -> Handler:
    """The handler inside `capture_lambda_handler` (a ColdStart annotation, a subsegment per DynamoDB call) when
    tracing is on; the handler itself otherwise. Responses are never put in a trace: they hold personal data."""
    if not tracing_on():
        return handler
    from aws_lambda_powertools import Tracer

    tracer = Tracer(patch_modules=["botocore"])  # the DynamoDB calls; the rest of patch_all is not used
    return tracer.capture_lambda_handler(handler, capture_response=False)
