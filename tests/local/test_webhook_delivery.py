"""Through the local runtime (the session's `make run`): a receiver on this machine subscribes, a member enrols,
and the event reaches the receiver signed, through the bus's rule, the delivery queue and the deliverer; the
SSRF guard answers 422 over HTTP; a failing receiver is retried by the queue and delivered once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from loyalty.webhooks.signing import HEADER, verify


def _receiver(fail_first: int):
    got, lock = [], threading.Lock()
    state = {"fail": fail_first}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                failing = state["fail"] > 0
                state["fail"] -= 1
                got.append((dict(self.headers), body, 500 if failing else 200))
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


def _admin(runtime, method, path, body=None):
    return requests.request(method, runtime.api + path, json=body, headers=runtime.headers("admin"), timeout=30)


def _wait(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_an_enrolment_reaches_a_subscribed_receiver_signed_and_a_failure_is_retried_once(local_runtime):
    server, got = _receiver(fail_first=1)
    try:
        created = _admin(local_runtime, "POST", "/v1/webhooks", {
            "url": f"http://127.0.0.1:{server.server_port}/hook", "event_types": ["MemberEnrolled"]})
        assert created.status_code == 201, created.text
        secret, webhook = created.json()["secret"], created.json()["webhook_id"]
        assert "secret" not in _admin(local_runtime, "GET", f"/v1/webhooks/{webhook}").json()
        email = f"{uuid.uuid4().hex}@example.com"
        member = requests.post(local_runtime.api + "/v1/members", json={"email": email},
                               headers=local_runtime.headers("pos"), timeout=30).json()["member_id"]

        def delivered():
            return any(status == 200 and json.loads(body)["detail"].get("member_id") == member for _, body, status in got)

        assert _wait(delivered, 90), f"not delivered: {got}"  # the first answer is 500: the retry comes after 30 s
        mine = [(headers, body, status) for headers, body, status in got if json.loads(body)["detail"].get("member_id") == member]
        assert [status for _, _, status in mine] == [500, 200]
        for headers, body, _ in mine:
            assert verify(secret, body, headers[HEADER], int(time.time()))
            assert headers["Loyalty-Event-Type"] == "MemberEnrolled"
        log = _admin(local_runtime, "GET", f"/v1/webhooks/{webhook}/deliveries").json()["items"]
        assert [(d["event_type"], d["status"], d["attempts"]) for d in log] == [("MemberEnrolled", "succeeded", 2)]
    finally:
        server.shutdown()
        _admin(local_runtime, "DELETE", f"/v1/webhooks/{webhook}")


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:8080/",
                                 "https://127.0.0.1/", "http://localhost:4000/"])
def test_addresses_that_are_not_public_are_refused_over_http(local_runtime, url):
    answer = _admin(local_runtime, "POST", "/v1/webhooks", {"url": url, "event_types": ["*"]})
    assert answer.status_code == 422 and answer.json()["code"] == "WEBHOOK_URL_NOT_ALLOWED"


def test_only_admins_manage_webhooks(local_runtime):
    for role in ("member", "pos"):
        answer = requests.get(local_runtime.api + "/v1/webhooks", headers=local_runtime.headers(role), timeout=30)
        assert answer.status_code == 403
    assert _admin(local_runtime, "GET", "/v1/webhooks/wh_0000000000000000").status_code == 404
    assert _admin(local_runtime, "GET", "/v1/webhooks?cursor=garbage").status_code == 400
    bad = _admin(local_runtime, "POST", "/v1/webhooks", {"url": "https://hooks.example.com/", "event_types": []})
    assert bad.status_code == 422 and bad.json()["code"] == "VALIDATION_ERROR"
