"""A campaign made in the console's form editor: a field error kept beside its field, the JSON view, a draft,
activation, a preview on a basket, and the counters after earns through the API. In a module of its own: its
runtime's earn function has read no campaign before this one is active (it caches them for up to 60 s)."""

from __future__ import annotations

import time
import uuid

from tests.console.conftest import api
from tests.console.test_journeys import earn, enrol, shown


def test_a_draft_campaign_made_in_the_form_is_previewed_activated_and_counts(console, runtime):
    campaign_id = f"console-{uuid.uuid4().hex[:8]}"
    member_id = enrol(runtime)
    console.open("#/campaigns/new")
    console.page.fill("input[name=campaign_id]", campaign_id)
    console.page.fill("input[name=name]", "Console bonus")
    console.page.fill("input[name=description]", "Fifty points on a purchase of 5 euros or more")
    console.page.click("text=Add a condition")
    console.page.select_option("select[aria-label='Condition 1: fact']", "order.eligible_minor")
    console.page.select_option("select[aria-label='Condition 1: operator']", "gte")
    console.page.fill("input[aria-label='Condition 1: value']", "500")
    console.page.select_option("select[name=effect_type]", "bonus")
    console.page.fill("input[name=points]", "-5")  # invalid: the API's field error beside it, the input kept
    console.page.click("text=Add a limit")
    console.page.fill("input[aria-label='Limit 1: at most']", "100")
    console.page.click("#campaign-form button[type=submit]")
    console.page.wait_for_selector("#campaign-form .field-error")
    assert console.page.get_attribute("input[name=points]", "aria-invalid") == "true"
    assert console.page.input_value("input[name=points]") == "-5"
    assert console.page.input_value("input[name=name]") == "Console bonus"
    assert api(runtime, "GET", f"/v1/campaigns/{campaign_id}").status_code == 404  # nothing written

    console.page.click("text=JSON view")
    console.page.wait_for_function("() => document.querySelector('#campaign-json').value !== ''")
    document = console.page.input_value("#campaign-json")
    assert '"fact": "order.eligible_minor"' in document and '"points": -5' in document
    console.page.fill("input[name=points]", "50")
    console.page.click("#campaign-form button[type=submit]")
    console.page.wait_for_selector("[data-campaign-status=draft]")
    stored = api(runtime, "GET", f"/v1/campaigns/{campaign_id}").json()
    assert stored["effect"] == {"type": "bonus", "points": 50}
    assert stored["conditions"] == {"all": [{"fact": "order.eligible_minor", "op": "gte", "value": 500}]}
    assert stored["limits"] == [{"per": "member", "period": "day", "max_points": 100, "max_times": None}]

    console.page.click("#campaign-lifecycle button")  # Activate
    console.page.wait_for_selector("[data-campaign-status=active]")
    console.page.fill("#preview-form input[name=member_id]", member_id)
    console.page.fill("#preview-form input[name=amount_minor]", "1200")
    console.page.click("#preview-form button[type=submit]")
    console.page.wait_for_selector(f"#preview-form tr[data-campaign='{campaign_id}']")
    preview = api(runtime, "POST", f"/v1/members/{member_id}/earn/preview",
                  {"transaction_id": "p", "amount_minor": 1200, "currency": "EUR", "channel": "store"}).json()
    assert shown(console, f"#preview-form tr[data-campaign='{campaign_id}'] td.n") == "50"
    assert shown(console, ".preview-total").startswith(f"{preview['points']} points")
    assert console.axe() == []
    console.screenshot("campaign-active-laptop")

    for _ in range(3):  # 50 + 50 reach the member's 100 a day; the third is cut to nothing
        earn(runtime, member_id, 1200)
    # A campaign's statistics are added from the ledger's stream, about a second after the earn: the page is
    # reloaded once the API shows them (the figures the console must then show are the API's).
    deadline = time.monotonic() + 30
    while api(runtime, "GET", f"/v1/campaigns/{campaign_id}").json()["times_applied"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    console.page.reload()
    console.page.wait_for_selector("[data-campaign-status=active]")
    assert shown(console, "[data-counter=points_awarded]") == "100"
    assert shown(console, "[data-counter=times_applied]") == "2"
    console.page.click("#campaign-lifecycle button")  # End
    console.page.wait_for_selector("[data-campaign-status=ended]")
    assert api(runtime, "GET", f"/v1/campaigns/{campaign_id}").json()["status"] == "ended"
    console.go("#/campaigns")
    console.page.select_option("select[name=status]", "ended")
    console.page.wait_for_selector(f"tr[data-campaign='{campaign_id}']")
    assert console.errors == []
