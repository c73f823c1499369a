"""A function's worker process: imports its handler once and serves invocations, like a warm Lambda.

The local runtime starts it as a script, in the function's code directory, with the function's own
environment: functions never share settings or modules, and the import path is Lambda's (the code
directory, then the shared layer from PYTHONPATH). Protocol: one JSON request per line on stdin, one
JSON reply per line on the original stdout; whatever the function prints goes to stderr, which the
runtime shows prefixed with the function's name. Only the standard library is used here, and, before the
handler is imported, the local platform (local_platform.py: the business clock, the in-process job queue, the
events file), which imports nothing of the layer but its clock and the platform's interface.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float = field(repr=False)
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class InitError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload


def error_payload(error: BaseException, error_type: str | None = None, message: str | None = None) -> dict[str, Any]:
    """An error as the Python runtime reports it."""
    return {"errorMessage": message or str(error), "errorType": error_type or type(error).__name__,
            "stackTrace": traceback.format_tb(error.__traceback__)}


def load_handler(handler: str):
    """Import the handler the way the Lambda Python runtime does, with its error types."""
    module_name, function_name = handler.rsplit(".", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InitError(error_payload(error, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")) from error
    except SyntaxError as error:
        raise InitError(error_payload(error, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}")) from error
    except Exception as error:  # noqa: BLE001 - any failure at import is the function's init error
        raise InitError(error_payload(error)) from error
    if not callable(getattr(module, function_name, None)):
        raise InitError({"errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                         "errorType": "Runtime.HandlerNotFound", "stackTrace": []})
    return getattr(module, function_name)


def invoke(handler, event: Any, context: LambdaContext) -> str:
    """The reply line: the handler's result, or its error as Lambda reports it."""
    try:
        reply = {"ok": True, "result": handler(event, context)}
    except Exception as error:  # noqa: BLE001 - reported to the caller as Lambda does
        traceback.print_exc()
        reply = {"ok": False, "error": error_payload(error)}
    try:
        return json.dumps(reply)
    except (TypeError, ValueError) as error:
        return json.dumps({"ok": False, "error": error_payload(error, "Runtime.MarshalError", f"Unable to marshal response: {error}")})


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # even output written below Python must not reach the replies
    sys.stdout = sys.stderr
    from local_platform import LocalPlatform  # this script's neighbour: its clock, job queue and event sink

    from loyalty.core.platform import install

    install(LocalPlatform())
    del sys.path[0]  # this script's directory: the function imports from its code directory and layer only
    name, timeout = os.environ["AWS_LAMBDA_FUNCTION_NAME"], int(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"])
    if os.environ.get("LOCAL_FAULTS"):  # `make run FAULTS=...`: AWS misbehaving under this function's every client
        from loyalty.store.faults import FaultInjector, FaultPlan, install

        install(FaultInjector(FaultPlan.parse(os.environ["LOCAL_FAULTS"])))
    try:
        handler = load_handler(os.environ["LOCAL_HANDLER"])
    except InitError as error:
        traceback.print_exc()
        replies.write(json.dumps({"ok": False, "error": error.payload, "init_failed": True}) + "\n")
        return  # like Lambda, the next invocation tries a fresh init
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(
            function_name=name, memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")),
            invoked_function_arn=f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{name}",
            aws_request_id=request["request_id"], deadline=time.monotonic() + timeout,
        )
        replies.write(invoke(handler, request["event"], context) + "\n")


if __name__ == "__main__":
    main()
