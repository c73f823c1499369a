"""What a developer steers the local runtime with: its business clock, the program file, its stopping; and what it refuses."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from loyalty_local.local_platform import LocalPlatform
from loyalty_local.template import ROOT
from tests.local.conftest import start_runtime

TIMEOUT = 30


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A runtime of its own, on another program: moving its clock must not disturb the shared one."""
    scratch = tmp_path_factory.mktemp("controls")
    program = json.loads((ROOT / "layers" / "loyalty" / "loyalty" / "data" / "program.json").read_text())
    program["name"] = "Tea Time Points"
    (scratch / "program.json").write_text(json.dumps(program))
    started = start_runtime(scratch / "runtime.log", PROGRAM_FILE=str(scratch / "program.json"))
    yield started
    started.stop()


def clock(runtime, body=None, data=None):
    url = f"{runtime.api}/_local/clock"
    if body is None and data is None:
        return requests.get(url, timeout=TIMEOUT)
    return requests.post(url, json=body, data=data, timeout=TIMEOUT)


def at(answer) -> datetime:
    return datetime.fromisoformat(answer.json()["now"])


def test_every_function_runs_on_the_program_file_the_developer_set(runtime):
    program = requests.get(f"{runtime.api}/v1/program", headers=runtime.headers("member"), timeout=TIMEOUT)
    assert program.status_code == 200 and program.json()["name"] == "Tea Time Points"


def test_the_business_clock_starts_at_the_real_time_and_only_moves_forward(runtime):
    start = at(clock(runtime))
    assert abs(start - datetime.now(timezone.utc)) < timedelta(seconds=5)
    moved = clock(runtime, {"advance_days": 30})
    assert moved.status_code == 200 and timedelta(days=30) <= at(moved) - start < timedelta(days=30, seconds=5)
    target = (at(moved) + timedelta(days=1)).replace(microsecond=0)
    jumped = clock(runtime, {"now": target.isoformat().replace("+00:00", "Z")})
    assert jumped.status_code == 200 and at(jumped) - target < timedelta(seconds=5)
    assert at(clock(runtime)) >= target, "and it runs on from there"
    back = clock(runtime, {"now": start.isoformat()})
    assert back.status_code == 409 and back.json()["code"] == "CLOCK_CANNOT_GO_BACK" and back.json()["message"]
    assert at(clock(runtime)) >= target
    # Every function reads it: the runtime hands them the file it keeps the offset in.
    clock_file = runtime.events_path.with_name(f"clock-{runtime.api_port}.json")
    assert abs(LocalPlatform().clock({"LOCAL_CLOCK_FILE": str(clock_file)}).now() - at(clock(runtime))) < timedelta(seconds=5)


@pytest.mark.parametrize("body", [{}, {"advance_days": -1}, {"advance_days": 1.5}, {"advance_days": True}, {"advance_days": "2"},
                                  {"advance_days": 10**9}, {"now": "2999-01-01"}, {"now": "2999-01-01T00:00:00"},
                                  {"now": "soon"}, {"now": "2999-01-01T00:00:00Z", "advance_days": 1}, [1], "now"])
def test_a_clock_move_that_makes_no_sense_is_refused_and_changes_nothing(runtime, body):
    before = at(clock(runtime))
    refused = clock(runtime, body)
    assert refused.status_code == 422 and refused.json()["code"] == "VALIDATION_ERROR", refused.text
    assert at(clock(runtime)) - before < timedelta(seconds=5)


def test_a_clock_body_that_is_not_json_is_a_400(runtime):
    refused = clock(runtime, data=b"{oops")
    assert refused.status_code == 400 and refused.json()["code"] == "MALFORMED_JSON"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "BREW"])
def test_unknown_methods_and_paths_answer_json_404_like_api_gateway(local_runtime, method):
    for path in ("/v2/nothing", "/v1/program/extra", "/_local/nothing"):
        answer = requests.request(method, f"{local_runtime.api}{path}", headers=local_runtime.headers("admin"), timeout=TIMEOUT)
        assert (answer.status_code, answer.headers["content-type"], answer.json()) == (404, "application/json", {"message": "Not Found"})
    if method not in ("GET",):
        answer = requests.request(method, f"{local_runtime.api}/v1/program", headers=local_runtime.headers("admin"), timeout=TIMEOUT)
        assert answer.status_code == 404 and answer.json() == {"message": "Not Found"}, "a route is its method and its path"


def test_a_request_the_http_layer_cannot_parse_is_refused_in_json(local_runtime):
    with socket.create_connection(("127.0.0.1", local_runtime.api_port), timeout=TIMEOUT) as connection:
        connection.sendall(b"GET /v1/program HTTP/1.1\r\nx-long: " + b"a" * 70_000 + b"\r\n\r\n")
        answer = connection.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == b"431" and b"application/json" in head
    assert json.loads(body) == {"message": "Request Header Fields Too Large"}


def test_tokens_of_another_issuer_or_audience_are_refused(local_runtime):
    from loyalty_local.apigw import make_token

    for claims in ({"issuer": "https://elsewhere.example.com"}, {"audience": "another-app"}):
        token = make_token("admin", local_runtime.secret, **claims)
        answer = requests.get(f"{local_runtime.api}/v1/program", headers={"authorization": f"Bearer {token}"}, timeout=TIMEOUT)
        assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_sigterm_stops_it_within_5_seconds_even_under_load(tmp_path):
    busy = start_runtime(tmp_path / "runtime.log")
    stop = threading.Event()

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    session.post(f"{busy.api}/v1/members", json={"email": f"load-{time.monotonic_ns()}@example.com"},
                                 headers=busy.headers("pos"), timeout=TIMEOUT)
                except requests.RequestException:
                    return  # it stopped
    clients = [threading.Thread(target=load) for _ in range(4)]
    try:
        for client in clients:
            client.start()
        time.sleep(3)
        began = time.monotonic()
        busy.process.send_signal(signal.SIGTERM)
        status = busy.process.wait(timeout=20)
        took = time.monotonic() - began
    finally:
        stop.set()
        if busy.process.poll() is None:
            busy.kill()
        for client in clients:
            client.join(timeout=TIMEOUT)
    assert status == 0 and took <= 5, f"{took:.1f} s to stop:\n{busy.log()}"
