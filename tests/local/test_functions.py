"""Worker processes: each function keeps its own environment; exceptions and timeouts behave like Lambda's."""

from __future__ import annotations

import textwrap

import pytest

from loyalty_local.apigw import Router, make_token
from loyalty_local.functions import FunctionError, FunctionPool, FunctionTimeout
from loyalty_local.server import Runtime
from loyalty_local.template import FunctionSpec, Route

HANDLER = textwrap.dedent('''
    import os, time
    SETTING = os.environ.get("SETTING")  # read at import, as the shared package reads its settings

    def lambda_handler(event, context):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise ValueError("boom")
        if event.get("version") == "2.0":
            return {"statusCode": 200, "body": SETTING}
        return {"setting": SETTING, "name": context.function_name, "sys_modules_app": __name__}
''')


@pytest.fixture
def pool(tmp_path):
    specs = {}
    for name, setting in (("OneFunction", "one"), ("TwoFunction", "two")):
        code = tmp_path / name
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        specs[name] = FunctionSpec(
            logical_id=name, code_dir=code, handler="app.lambda_handler", timeout=1, environment={"SETTING": setting},
            routes=(Route("GET", f"/{name.lower()}", ("loyalty/pos",)),), schedules=(),
        )
    functions = FunctionPool(specs, {}, log=lambda line: None)
    yield functions, specs
    functions.stop()


def test_each_function_sees_only_its_own_environment(pool):
    functions, _ = pool
    assert functions.invoke("OneFunction", {})["setting"] == "one"
    assert functions.invoke("TwoFunction", {})["setting"] == "two"
    assert functions.invoke("OneFunction", {})["name"] == "OneFunction"


def test_an_exception_is_reported_with_its_type_and_trace(pool):
    functions, _ = pool
    with pytest.raises(FunctionError) as raised:
        functions.invoke("OneFunction", {"fail": True})
    assert raised.value.payload["errorType"] == "ValueError" and raised.value.payload["stackTrace"]
    assert functions.invoke("OneFunction", {})["setting"] == "one", "the worker survives a handler exception"


def test_the_template_timeout_is_honoured_and_the_worker_restarts(pool):
    functions, _ = pool
    functions.invoke("OneFunction", {})  # warm: no init allowance from here on
    with pytest.raises(FunctionTimeout):
        functions.invoke("OneFunction", {"sleep": 3})
    assert functions.invoke("OneFunction", {})["setting"] == "one"


def test_the_api_answers_502_for_a_crash_and_503_for_a_timeout(pool):
    functions, specs = pool
    runtime = Runtime(api_port=0, lambda_port=0, dynamodb_port=0, secret="s" * 32)
    runtime.pool, runtime.router = functions, Router(specs)
    headers = {"authorization": f"Bearer {make_token('pos', 's' * 32)}"}
    status, _, body = runtime._serve_api("GET", "/onefunction", headers, b"", "127.0.0.1")
    assert (status, body) == (200, b"one")
    original = functions.invoke  # make the handler crash, then hang, on the gateway's event
    functions.invoke = lambda name, event, request_id=None: original(name, {**event, "fail": True}, request_id)
    assert runtime._serve_api("GET", "/onefunction", headers, b"", "127.0.0.1")[0] == 502
    functions.invoke = lambda name, event, request_id=None: original(name, {**event, "sleep": 3}, request_id)
    assert runtime._serve_api("GET", "/onefunction", headers, b"", "127.0.0.1")[0] == 503
