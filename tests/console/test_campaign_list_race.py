"""The campaign list by status shows the answer to the filter on screen, whatever order the answers arrive in: the
first list (drafts) answering after the list the user then chose (ended) must not replace it (it did, on a loaded
machine: the ended campaign the user asked for never appeared)."""

from __future__ import annotations

import time
import uuid

from tests.console.conftest import api


def test_a_late_answer_to_an_earlier_filter_does_not_replace_the_list_shown(console, runtime):
    campaign_id = f"ended-{uuid.uuid4().hex[:8]}"
    assert api(runtime, "POST", "/v1/campaigns", {"campaign_id": campaign_id, "name": "Ended one",
                                                  "effect": {"type": "bonus", "points": 1}}).status_code == 201
    assert api(runtime, "POST", f"/v1/campaigns/{campaign_id}/activate").status_code == 200
    assert api(runtime, "POST", f"/v1/campaigns/{campaign_id}/end").status_code == 200

    held = []  # the drafts' request, answered only after the ended list is on screen

    def hold_drafts(route):
        if "status=draft" in route.request.url:
            held.append(route)
        else:
            route.continue_()

    console.open()
    console.page.route("**/v1/campaigns?*", hold_drafts)
    console.go("#/campaigns")
    deadline = time.monotonic() + 15
    while not held and time.monotonic() < deadline:
        console.page.wait_for_timeout(50)  # lets the page's request reach the handler
    assert held, "the campaign list never asked for the drafts"
    console.page.select_option("select[name=status]", "ended")
    console.page.wait_for_selector(f"tr[data-campaign='{campaign_id}']")

    with console.page.expect_response(lambda response: "status=draft" in response.url):
        held[0].continue_()
    console.page.wait_for_timeout(500)  # time for the late answer to be rendered, were it to be
    assert console.page.locator(f"tr[data-campaign='{campaign_id}']").count() == 1
    assert console.page.input_value("select[name=status]") == "ended"
    assert console.errors == []
