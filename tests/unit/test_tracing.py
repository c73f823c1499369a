"""The handlers' Tracer: built only when it will trace, so the X-Ray SDK (two botocore clients at import) is never
loaded where tracing is off. Each case runs a fresh interpreter: the SDK patches botocore process-wide."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.api.tracing import tracing_on

CHILD = """
import json, sys
from loyalty.api.tracing import traced

def handler(event, context):
    return {"echo": event}

wrapped = traced(handler)
print(json.dumps({"result": wrapped({"a": 1}, None), "wrapped": wrapped is not handler,
                  "sdk_loaded": "aws_xray_sdk" in sys.modules}))
"""


def run_child(env: dict[str, str]) -> dict:
    base = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "PYTHONPATH": ":".join(sys.path)}
    if "MUTANT_UNDER_TEST" in os.environ:  # `make mutation`: the child runs the mutant the test process runs
        base["MUTANT_UNDER_TEST"] = os.environ["MUTANT_UNDER_TEST"]
    result = subprocess.run([sys.executable, "-c", CHILD], env={**base, **env}, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("env", [
    {},  # outside Lambda
    {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"},  # the template's default
    {"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"},
])
def test_with_tracing_off_the_handler_is_left_alone_and_the_sdk_never_imported(env):
    assert run_child(env) == {"result": {"echo": {"a": 1}}, "wrapped": False, "sdk_loaded": False}


def test_in_lambda_with_tracing_on_the_handler_is_traced_and_still_answers():
    child = run_child({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"})
    assert child == {"result": {"echo": {"a": 1}}, "wrapped": True, "sdk_loaded": True}


TRUTHY = ["1", "true", "True", "TRUE", "on", "y", "yes"]


@given(task_root=st.sampled_from(["", "/var/task"]), disabled=st.sampled_from([None, "false", "0", *TRUTHY]),
       sam_local=st.sampled_from([None, "true"]))
def test_tracing_is_on_only_in_lambda_not_disabled_and_not_under_sam_local(task_root, disabled, sam_local):
    environ = {"LAMBDA_TASK_ROOT": task_root}
    if disabled is not None:
        environ["POWERTOOLS_TRACE_DISABLED"] = disabled
    if sam_local is not None:
        environ["AWS_SAM_LOCAL"] = sam_local
    expected = bool(task_root) and disabled not in TRUTHY and sam_local is None
    assert tracing_on(environ) is expected
