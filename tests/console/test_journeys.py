"""What the program team does in the console, checked against the API: each figure the console shows is
compared with what the API answers or what the test computed from what it did."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

from tests.console.conftest import WIDTHS, api


def enrol(runtime, email: str | None = None) -> str:
    response = api(runtime, "POST", "/v1/members", {"email": email or f"{uuid.uuid4().hex[:12]}@example.com", "name": "Robin Console"}, role="pos")
    assert response.status_code == 201, response.text
    return response.json()["member_id"]


def earn(runtime, member_id: str, amount_minor: int) -> dict:
    body = {"transaction_id": f"t-{uuid.uuid4().hex}", "amount_minor": amount_minor, "currency": "EUR", "channel": "store"}
    response = api(runtime, "POST", f"/v1/members/{member_id}/earn", body, role="pos")
    assert response.status_code == 201, response.text
    return response.json()


def member(runtime, member_id: str) -> dict:
    response = api(runtime, "GET", f"/v1/members/{member_id}")
    assert response.status_code == 200, response.text
    return response.json()


def shown(console, selector: str) -> str:
    return console.page.locator(selector).inner_text().strip()


def test_dashboard_kpis_are_the_report_s_figures(console, runtime):
    amounts = [1250, 830, 4099]
    members = [enrol(runtime) for _ in range(3)]
    for member_id, amount in zip(members, amounts, strict=True):
        earn(runtime, member_id, amount)
    earn(runtime, members[0], 500)
    today = datetime.now(timezone.utc).date().isoformat()
    reports = []
    console.page.on("request", lambda request: reports.append(request.url) if "/v1/reports/program" in request.url else None)
    console.open("#/dashboard")
    assert len(reports) == 1  # the dashboard costs the API one report call
    console.page.fill("#main input[name=from]", today)
    console.page.fill("#main input[name=to]", today)
    console.page.click("text=Show")
    console.page.wait_for_selector(f"text={today} to {today}")
    assert len(reports) == 2
    figures = {key: console.page.get_attribute(f"[data-kpi={key}]", "data-value") for key in
               ("enrollments", "purchases", "revenue_minor", "active_members", "points_issued", "points_redeemed", "outstanding_points")}
    # what this test did, computed here (this module's runtime saw nothing else today)
    assert int(figures["enrollments"]) == 3
    assert int(figures["purchases"]) == 4
    assert int(figures["revenue_minor"]) == sum(amounts) + 500
    assert int(figures["active_members"]) == 3
    balances = sum(member(runtime, m)["points_balance"] + member(runtime, m)["points_pending"] for m in members)
    report = api(runtime, "GET", f"/v1/reports/program?from={today}&to={today}").json()
    assert {key: int(value) for key, value in figures.items()} == {key: report[key] for key in figures}
    assert report["points_issued"] >= balances - report["points_pending"]  # every credited point counted
    assert shown(console, "[data-kpi=revenue_minor]") == f"€{(sum(amounts) + 500) / 100:,.2f}"
    console.page.fill("#main input[name=from]", (datetime.now(timezone.utc) - timedelta(days=13)).date().isoformat())
    console.page.click("text=Show")
    console.page.wait_for_selector(f"text=to {today}")
    console.page.wait_for_function(
        "() => ['enrollments', 'purchases', 'points'].every(id => document.querySelector(`#chart-${id} .plot canvas`))")
    for width, (w, height) in WIDTHS.items():
        console.page.set_viewport_size({"width": w, "height": height})
        console.screenshot(f"dashboard-with-data-{width}")
    assert console.axe() == []
    assert console.errors == []


def test_find_adjust_block_unblock_cancel_export_and_erase_a_member(console, runtime):
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    member_id = enrol(runtime, email)
    earned = earn(runtime, member_id, 2000)
    console.open("#/members")
    console.page.fill("input[name=query]", email)
    console.page.press("input[name=query]", "Enter")
    console.page.wait_for_selector(f"text=Robin Console ({member_id})")
    before = member(runtime, member_id)
    assert shown(console, "[data-member=balance]").startswith(f"{before['points_balance']:,} points")
    earn_row = console.page.locator("tr[data-type=earn]")
    assert [int(p) for p in re.findall(r": (-?\d+)$", earn_row.locator(".breakdown li[data-source]").first.inner_text())] == \
        [line["points"] for line in earned["breakdown"]][:1]

    # an invalid value: the API's field error beside the field, and what was typed kept
    console.page.fill("#adjust-form input[name=points]", "2000000000")
    console.page.fill("#adjust-form input[name=reason]", "goodwill")
    console.page.click("#adjust-form button[type=submit]")
    console.page.wait_for_selector("#adjust-form .field-error")
    assert "VALIDATION_ERROR" in shown(console, "#adjust-form .error-box")
    assert console.page.get_attribute("#adjust-form input[name=points]", "aria-invalid") == "true"
    assert console.page.input_value("#adjust-form input[name=points]") == "2000000000"
    assert console.page.input_value("#adjust-form input[name=reason]") == "goodwill"
    assert member(runtime, member_id)["points_balance"] == before["points_balance"]  # nothing written

    console.page.fill("#adjust-form input[name=points]", "25")
    console.page.click("#adjust-form button[type=submit]")
    console.page.wait_for_selector("tr[data-type=adjust]")
    after = member(runtime, member_id)
    assert after["points_balance"] == before["points_balance"] + 25
    assert shown(console, "[data-member=balance]").startswith(f"{after['points_balance']:,} points")
    assert "reason: goodwill" in shown(console, "tr[data-type=adjust]")
    for width, (w, height) in WIDTHS.items():
        console.page.set_viewport_size({"width": w, "height": height})
        console.screenshot(f"member-{width}")
        assert console.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), width
    console.page.set_viewport_size({"width": 1280, "height": 800})
    assert console.axe() == []

    console.page.fill("#block-form input[name=reason]", "card shared")
    console.page.click("#block-form button[type=submit]")
    console.page.wait_for_selector("[data-member=status]:text('blocked')")
    assert member(runtime, member_id)["status"] == "blocked"
    refused = api(runtime, "POST", f"/v1/members/{member_id}/earn", {"transaction_id": "t-blocked", "amount_minor": 100, "currency": "EUR"}, role="pos")
    assert refused.status_code == 403
    console.page.click("#block-form button[type=submit]")  # Unblock
    console.page.wait_for_selector("[data-member=status]:text('active')")
    assert member(runtime, member_id)["status"] == "active"

    redeemed = api(runtime, "POST", f"/v1/members/{member_id}/redemptions", {"points": 10}, **{"Idempotency-Key": uuid.uuid4().hex})
    assert redeemed.status_code == 201, redeemed.text
    console.page.reload()
    console.page.wait_for_selector("tr[data-type=redeem]")
    console.page.click("tr[data-type=redeem] button")
    console.page.wait_for_selector("tr[data-type=cancel]")
    assert member(runtime, member_id)["points_balance"] == after["points_balance"]

    with console.page.expect_download() as download:
        console.page.click("text=Download export (JSON)")
    assert member_id in download.value.suggested_filename

    erase = console.page.locator("#erase-form button[type=submit]")
    console.page.fill("#erase-form input[name=confirm]", member_id[:-1])
    assert erase.is_disabled()
    console.page.fill("#erase-form input[name=confirm]", member_id)
    erase.click()
    console.page.wait_for_selector("#erase-form .done")
    assert api(runtime, "GET", f"/v1/members?email={email}").json()["items"] == []
    console.screenshot("member-after-erase-laptop")
    assert console.errors == []


def test_rewards_are_created_edited_stocked_and_retired(console, runtime):
    reward_id = f"r-{uuid.uuid4().hex[:8]}"
    console.open("#/rewards")
    console.page.click("text=New reward")
    create = console.page.locator("details.create form")
    create.locator("input[name=reward_id]").fill(reward_id)
    create.locator("input[name=name]").fill("Console muffin")
    create.locator("input[name=description]").fill("A muffin")
    create.locator("input[name=points]").fill("80")
    create.locator("input[name=value_minor]").fill("250")
    create.locator("input[name=stock]").fill("5")
    create.locator("button[type=submit]").click()
    card = console.page.locator(f"[data-reward='{reward_id}']")
    card.wait_for()
    assert card.locator("[data-reward-field=stock]").inner_text() == "5"
    card.locator("input[name=delta]").fill("-7")  # more than there is: the API's error beside the stock form
    card.locator("form.inline button[type=submit]").click()
    card.locator(".error-box").wait_for()
    card.locator("input[name=delta]").fill("3")
    card.locator("form.inline button[type=submit]").click()
    console.page.wait_for_selector(f"[data-reward='{reward_id}'] [data-reward-field=stock]:text('8')")
    card.locator("text=Edit").click()
    card.locator("form.reward-form input[name=points]").fill("90")
    card.locator("form.reward-form button[type=submit]").click()
    console.page.wait_for_selector(f"[data-reward='{reward_id}'] [data-reward-field=points]:text('90')")
    console.page.locator(f"[data-reward='{reward_id}'] button.danger").click()  # Retire
    console.page.wait_for_function("id => !document.querySelector(`[data-reward='${id}'] [data-reward-field=active]`)"
                                   " || document.querySelector(`[data-reward='${id}'] [data-reward-field=active]`).textContent === 'no'", arg=reward_id)
    listed = {r["reward_id"]: r for r in api(runtime, "GET", "/v1/rewards?limit=100").json()["items"]}
    assert reward_id not in listed or listed[reward_id]["active"] is False
