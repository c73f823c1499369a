"""The webhooks screen in the browser, against a receiver on this machine: a private address refused beside the
URL field, a subscription made in the form with its secret shown once (and that secret verifies what the
receiver gets), a test event whose failed first attempt is retried from the log, an enrolment delivered, and the
subscription removed. Every figure on screen is checked against the API's delivery log."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loyalty.webhooks.signing import HEADER, verify
from tests.console.conftest import WIDTHS, api
from tests.console.test_journeys import enrol, shown


class Receiver:
    """An endpoint on 127.0.0.1 that answers 500 to the first `fail` requests, then 200, and keeps each one."""

    def __init__(self, fail: int) -> None:
        self.got: list[tuple[dict, bytes, int]] = []
        self.fail = fail
        lock, outer = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    status = 500 if outer.fail > 0 else 200
                    outer.fail -= 1
                    outer.got.append((dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_type(self, event_type: str) -> list[tuple[dict, bytes, int]]:
        return [got for got in self.got if got[0].get("Loyalty-Event-Type") == event_type]


@pytest.fixture
def receiver():
    started = Receiver(fail=1)
    yield started
    started.server.shutdown()
    started.server.server_close()


def wait_until(predicate, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def deliveries(runtime, webhook_id: str) -> list[dict]:
    answer = api(runtime, "GET", f"/v1/webhooks/{webhook_id}/deliveries?limit=100")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def refresh_until(console, selector: str, what: str) -> None:
    """Press the log's Refresh until the row shows (a delivery is made by the deliverer, after the click)."""
    def there() -> bool:
        console.page.click("text=Refresh the log")
        console.page.wait_for_selector("#deliveries")
        return console.page.locator(selector).count() > 0

    wait_until(there, what)


def row_shows(console, delivery: dict) -> None:
    row = console.page.locator(f"tr[data-delivery='{delivery['delivery_id']}']")
    assert row.get_attribute("data-event-type") == delivery["event_type"]
    assert row.locator("[data-delivery-status]").inner_text() == delivery["status"]
    assert row.locator("[data-attempts]").inner_text() == str(delivery["attempts"])
    assert row.locator("[data-event-id]").inner_text() == delivery["event_id"]
    assert row.locator("[data-last-status]").inner_text() == ("—" if delivery["last_status"] is None else str(delivery["last_status"]))


def test_subscribe_test_retry_deliver_and_remove_a_webhook(console, runtime, receiver):
    console.open("#/webhooks")
    console.page.wait_for_selector("text=No subscriptions yet.")
    for width, (w, height) in WIDTHS.items():
        console.page.set_viewport_size({"width": w, "height": height})
        console.screenshot(f"webhooks-empty-{width}")
    console.page.set_viewport_size({"width": 1280, "height": 800})

    # a private address: refused with its code beside the URL, what was typed kept, nothing subscribed
    form = console.page.locator("#webhook-form")
    form.locator("input[name=url]").fill("http://10.0.0.1/hook")
    form.locator("input[name=description]").fill("the CRM")
    form.locator("button[type=submit]").click()
    form.locator(".field-error").wait_for()
    assert form.locator(".field-error").inner_text().startswith("WEBHOOK_URL_NOT_ALLOWED: ")
    assert form.locator("input[name=url]").get_attribute("aria-invalid") == "true"
    assert shown(console, "#webhook-form .error-code") == "WEBHOOK_URL_NOT_ALLOWED"
    assert form.locator("input[name=url]").input_value() == "http://10.0.0.1/hook"
    assert form.locator("input[name=description]").input_value() == "the CRM"
    assert api(runtime, "GET", "/v1/webhooks").json()["items"] == []
    assert console.axe() == []

    # two event types, then subscribed: the secret shown once
    form.locator("input[name=url]").fill(receiver.url)
    form.locator("text=All events (*)").click()
    form.locator("label:has-text('MemberEnrolled') input").check()
    form.locator("label:has-text('PointsEarned') input").check()
    form.locator("button[type=submit]").click()
    console.page.wait_for_selector("#new-secret")
    secret = console.page.locator("#new-secret input[name=secret]").input_value()
    assert form.locator(".error-box").count() == 0
    [subscription] = api(runtime, "GET", "/v1/webhooks").json()["items"]
    webhook_id = subscription["webhook_id"]
    assert subscription["url"] == receiver.url and subscription["description"] == "the CRM"
    assert subscription["event_types"] == ["MemberEnrolled", "PointsEarned"]
    assert "secret" not in api(runtime, "GET", f"/v1/webhooks/{webhook_id}").json()
    assert secret.startswith("whsec_") and webhook_id in shown(console, "#new-secret h2")
    row = console.page.locator(f"tr[data-webhook='{webhook_id}']")
    assert row.locator("[data-webhook-status]").inner_text() == "active"
    assert "MemberEnrolled, PointsEarned" in row.inner_text()
    console.page.click("#new-secret button:has-text('Copy')")
    console.page.wait_for_function("() => document.querySelector('#new-secret [role=status]').textContent !== ''")
    assert console.axe() == []
    console.screenshot("webhooks-subscribed-laptop")

    # its page: a test event, whose first attempt fails (the receiver answers 500) ...
    row.locator("a").click()
    console.page.wait_for_selector(f"text=Subscription {webhook_id}")
    assert shown(console, "[data-webhook-field=url]") == receiver.url
    console.page.wait_for_selector("text=No deliveries yet.")
    console.page.click("text=Send a test event")
    wait_until(lambda: len(receiver.of_type("WebhookTest")) == 1, "the test event at the receiver")
    [(headers, body, status)] = receiver.of_type("WebhookTest")
    assert status == 500
    assert verify(secret, body, headers[HEADER], int(time.time()))  # the secret the console showed signs it
    refresh_until(console, "tr[data-event-type=WebhookTest] td[data-attempts='1']", "the failed attempt in the log")
    [failed] = deliveries(runtime, webhook_id)
    assert (failed["event_type"], failed["status"], failed["attempts"], failed["last_status"]) == ("WebhookTest", "pending", 1, 500)
    row_shows(console, failed)

    # ... and retried from the log: delivered once more, now answered 200
    console.page.locator(f"tr[data-delivery='{failed['delivery_id']}'] button:has-text('Retry')").click()
    console.page.wait_for_function("id => document.activeElement.closest('tr')?.dataset.delivery === id", arg=failed["delivery_id"])
    wait_until(lambda: len(receiver.of_type("WebhookTest")) == 2, "the retried test event at the receiver")
    assert receiver.of_type("WebhookTest")[1][2] == 200
    assert json.loads(receiver.of_type("WebhookTest")[1][1])["detail"]["event_id"] == failed["event_id"]
    refresh_until(console, f"tr[data-delivery='{failed['delivery_id']}'] [data-delivery-status=succeeded]", "the retry's success in the log")
    [succeeded] = deliveries(runtime, webhook_id)
    assert (succeeded["status"], succeeded["attempts"], succeeded["last_status"]) == ("succeeded", 2, 200)
    row_shows(console, succeeded)

    # an enrolment: one of the subscribed events, delivered and logged
    member_id = enrol(runtime, f"{uuid.uuid4().hex[:12]}@example.com")
    wait_until(lambda: any(json.loads(b)["detail"].get("member_id") == member_id for _, b, _ in receiver.of_type("MemberEnrolled")),
               "the enrolment at the receiver")
    refresh_until(console, "tr[data-event-type=MemberEnrolled] [data-delivery-status=succeeded]", "the enrolment in the log")
    log = deliveries(runtime, webhook_id)
    assert [d["event_type"] for d in log] == ["MemberEnrolled", "WebhookTest"]
    rows = console.page.locator("#deliveries tbody tr")
    assert [rows.nth(i).get_attribute("data-delivery") for i in range(rows.count())] == [d["delivery_id"] for d in log]
    for delivery in log:
        row_shows(console, delivery)
    console.fits_every_width("webhook-deliveries")

    # removed, after a confirmation
    assert not console.page.is_visible("text=Yes, remove it") and not console.page.is_visible("text=Older deliveries")
    console.page.click("text=Remove subscription")
    console.page.click("text=Yes, remove it")
    console.page.wait_for_selector("text=No subscriptions yet.")
    assert api(runtime, "GET", f"/v1/webhooks/{webhook_id}").status_code == 404
    assert console.errors == []
