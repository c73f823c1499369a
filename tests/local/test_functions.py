"""Worker processes and the runtime's two APIs, in-process, with throwaway functions (no moto needed)."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from loyalty_local.apigw import Request, Router, make_token
from loyalty_local.functions import FunctionError, FunctionPool, FunctionTimeout, Worker
from loyalty_local.server import Runtime
from loyalty_local.template import FunctionSpec, Route, functions

SECRET = "s" * 32
HANDLER = textwrap.dedent('''
    import importlib.util, os, sys, time
    SETTING = os.environ.get("SETTING")  # read at import, as the shared package reads its settings

    class NotJson:
        pass

    def lambda_handler(event, context):
        print("handling", event.get("say", ""))
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise ValueError("boom")
        if event.get("touch"):
            open(event["touch"], "w").close()
        if event.get("version") == "2.0":
            return event.get("respond", {"statusCode": 200, "body": SETTING})
        if event.get("not_json"):
            return NotJson()
        return {"setting": SETTING, "name": context.function_name, "remaining_ms": context.get_remaining_time_in_millis(),
                "importable": [name for name in ("loyalty_local", "tests") if importlib.util.find_spec(name)], "path": sys.path[0]}
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
    logged: list[str] = []
    functions = FunctionPool(specs, {}, logged.append)
    yield functions, specs, logged
    functions.stop()


def invoke(functions, name, event):
    return functions.invoke(name, event, "req-1")


def test_each_function_sees_only_its_own_environment_and_modules(pool):
    functions, specs, _ = pool
    one, two = invoke(functions, "OneFunction", {}), invoke(functions, "TwoFunction", {})
    assert (one["setting"], two["setting"]) == ("one", "two")
    assert one["name"] == "OneFunction" and 0 < one["remaining_ms"] <= 1000
    assert one["importable"] == [], "neither the runtime nor the tests are importable from a function"
    assert one["path"] == str(specs["OneFunction"].code_dir), "the code directory comes first, as /var/task in Lambda"


def test_what_a_function_prints_is_logged_with_its_name(pool):
    functions, _, logged = pool
    invoke(functions, "OneFunction", {"say": "hello"})
    deadline = time.monotonic() + 5
    while "[OneFunction] handling hello" not in logged and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "[OneFunction] handling hello" in logged


def test_an_exception_is_reported_with_its_type_and_trace(pool):
    functions, _, logged = pool
    with pytest.raises(FunctionError) as raised:
        invoke(functions, "OneFunction", {"fail": True})
    assert raised.value.payload["errorType"] == "ValueError" and raised.value.payload["errorMessage"] == "boom"
    assert "raise ValueError" in "".join(raised.value.payload["stackTrace"])
    assert invoke(functions, "OneFunction", {})["setting"] == "one", "the worker survives a handler exception"


def test_a_result_that_is_not_json_is_a_marshal_error(pool):
    functions, _, _ = pool
    with pytest.raises(FunctionError) as raised:
        invoke(functions, "OneFunction", {"not_json": True})
    assert raised.value.payload["errorType"] == "Runtime.MarshalError"


def test_the_template_timeout_is_honoured_and_the_worker_restarts(pool):
    functions, _, _ = pool
    invoke(functions, "OneFunction", {})  # warm: no init allowance from here on
    with pytest.raises(FunctionTimeout) as raised:
        invoke(functions, "OneFunction", {"sleep": 3})
    assert raised.value.payload["errorType"] == "Sandbox.Timedout"
    assert invoke(functions, "OneFunction", {})["setting"] == "one"


def test_an_init_error_is_reported_as_lambda_does_and_the_next_call_inits_again(pool):
    functions, specs, _ = pool
    app = specs["OneFunction"].code_dir / "app.py"
    app.write_text("import no_such_module\n")
    with pytest.raises(FunctionError) as raised:
        invoke(functions, "OneFunction", {})
    assert raised.value.payload["errorType"] == "Runtime.ImportModuleError"
    assert raised.value.payload["errorMessage"] == "Unable to import module 'app': No module named 'no_such_module'"
    app.write_text("x = 1\n")
    with pytest.raises(FunctionError) as raised:
        invoke(functions, "OneFunction", {})
    assert raised.value.payload["errorType"] == "Runtime.HandlerNotFound"
    app.write_text(HANDLER)
    assert invoke(functions, "OneFunction", {})["setting"] == "one"


@pytest.fixture
def runtime(pool):
    functions, specs, _ = pool
    runtime = Runtime(api_port=0, lambda_port=0, dynamodb_port=0, secret=SECRET)
    runtime.pool, runtime.router = functions, Router(specs)
    return runtime


def api_request(runtime, path="/onefunction", token=None):
    headers = {"authorization": f"Bearer {token or make_token('pos', SECRET)}"}
    return runtime.serve_api(Request("GET", path, "", headers, b"", "127.0.0.1", 3000))


def test_the_api_answers_like_api_gateway(runtime, monkeypatch):
    status, headers, body = api_request(runtime)
    assert (status, body) == (200, b"one") and dict(headers)["apigw-requestid"]
    assert api_request(runtime, token=make_token("member", SECRET))[0] == 403
    assert api_request(runtime, token=make_token("pos", "another-secret-another-secret-xx"))[0] == 401
    assert api_request(runtime, "/nowhere")[0] == 404
    original = runtime.pool.invoke

    def invoke_with(extra):
        monkeypatch.setattr(runtime.pool, "invoke", lambda name, event, request_id: original(name, {**event, **extra}, request_id))
        return api_request(runtime)

    assert invoke_with({"fail": True})[0::2] == (502, b'{"message":"Internal Server Error"}')
    assert invoke_with({"respond": {"statusCode": "not a status"}})[0] == 502
    assert invoke_with({"sleep": 3})[0::2] == (503, b'{"message":"Service Unavailable"}')


def invoke_api(runtime, name, payload=b"{}", **headers):
    path = f"/2015-03-31/functions/{name}/invocations"
    status, response_headers, body = runtime.serve_invoke(Request("POST", path, "", headers, payload, "127.0.0.1", 3001))
    return status, dict(response_headers), body


def test_the_invoke_api_answers_like_lambda(runtime, tmp_path):
    status, headers, body = invoke_api(runtime, "OneFunction", b'{"say": "hi"}')
    assert status == 200 and json.loads(body)["setting"] == "one" and headers["x-amzn-requestid"]
    status, headers, body = invoke_api(runtime, "arn:aws:lambda:us-east-1:123456789012:function:TwoFunction")
    assert json.loads(body)["setting"] == "two"
    status, headers, body = invoke_api(runtime, "OneFunction", b'{"fail": true}')
    assert status == 200 and headers["x-amz-function-error"] == "Unhandled" and json.loads(body)["errorType"] == "ValueError"
    status, headers, _ = invoke_api(runtime, "NoFunction")
    assert status == 404 and headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert invoke_api(runtime, "OneFunction", b"{oops")[1]["x-amzn-errortype"] == "InvalidRequestContentException"
    assert invoke_api(runtime, "OneFunction", **{"x-amz-invocation-type": "DryRun"})[0] == 204
    marker = tmp_path / "ran"
    status, _, body = invoke_api(runtime, "OneFunction", json.dumps({"touch": str(marker)}).encode(),
                                 **{"x-amz-invocation-type": "Event"})
    assert (status, body) == (202, b"")
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "an Event invocation runs after the 202"


TEMPLATE = {
    "Parameters": {"EmailHashKeyParameter": {"Type": "String"}, "Stage": {"Type": "String", "Default": "dev"}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "EnrollFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "functions/enroll", "Handler": "app.lambda_handler",
            "Environment": {"Variables": {"EMAIL_HASH_KEY_PARAMETER": {"Ref": "EmailHashKeyParameter"},
                                          "JOB_QUEUE_URL": {"Ref": "Queue"}, "STAGE": {"Ref": "Stage"},
                                          "OWNER": {"Fn::Sub": "${Stage}-${EmailHashKeyParameter}"}}}}},
    },
}


def test_parameters_without_defaults_resolve_to_local_values_and_the_runtime_s_settings_win():
    spec = functions(TEMPLATE)["EnrollFunction"]
    assert spec.environment["OWNER"] == "dev-local-EmailHashKeyParameter", "a deployer's parameter does not stop the runtime"
    local = {"EMAIL_HASH_KEY": "k" * 32, "JOB_QUEUE_URL": "local"}
    environment = Worker(spec, local, print).environment()
    assert environment["EMAIL_HASH_KEY"] == "k" * 32 and environment["JOB_QUEUE_URL"] == "local" and environment["STAGE"] == "dev"
    assert "EMAIL_HASH_KEY_PARAMETER" not in environment, "no SSM locally: the key itself is given"
