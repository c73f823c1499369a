"""A function's worker process: imports its handler once and serves invocations, like a warm Lambda.

Started by the local runtime with the function's own environment, so functions never share
settings or modules. Protocol: one JSON request per line on stdin, one JSON reply per line on
the original stdout; everything the function prints goes to stderr, which the runtime shows.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
import uuid
from dataclasses import dataclass


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return int(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")) * 1000


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # the function's prints must not corrupt the protocol
    module_name, function_name = os.environ["LOCAL_HANDLER"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(
            function_name=name, memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")),
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
            aws_request_id=request.get("request_id") or str(uuid.uuid4()),
        )
        try:
            reply = {"ok": True, "result": handler(request["event"], context)}
        except Exception as error:  # noqa: BLE001 - reported to the caller as Lambda does
            traceback.print_exc()
            reply = {"ok": False, "error": {
                "errorMessage": str(error), "errorType": type(error).__name__,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }}
        replies.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
