"""Message templates in the console, checked against the API: the list, a template refused for a placeholder its
kind does not provide (INVALID_TEMPLATE beside the field, everything typed kept, nothing stored), then saved with
the rendered preview the API returns (computed here from the sample values), and a template for a new locale."""

from __future__ import annotations

from loyalty.messages.templates import SAMPLE
from tests.console.conftest import api
from tests.console.test_journeys import shown


def template(runtime, kind: str, locale: str) -> dict:
    answer = api(runtime, "GET", f"/v1/messages/templates/{kind}/{locale}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_edit_a_message_template_and_see_its_preview(console, runtime):
    listed = api(runtime, "GET", "/v1/messages/templates").json()["items"]
    console.open("#/messages")
    console.page.wait_for_selector("tr[data-template]")
    on_screen = console.page.evaluate("() => [...document.querySelectorAll('tr[data-template]')].map(r => "
                                      "[r.dataset.template, r.children[2].textContent])")
    assert on_screen == [[f"{t['kind']}/{t['locale']}", t["version"]] for t in listed]
    assert console.axe() == []
    console.screenshot("messages-laptop")

    before = template(runtime, "welcome", "en")
    console.page.click("tr[data-template='welcome/en'] a")
    form = console.page.locator("#template-form")
    form.wait_for()
    assert form.locator("input[name=subject]").input_value() == before["subject"]
    assert form.locator("textarea[name=html]").input_value() == before["html"]

    # a placeholder the welcome message does not get: refused beside the subject, what was typed kept
    name, points = SAMPLE["member"]["name"], SAMPLE["points"]
    text = "Hello {{ member.name }},\n{{ points }} points are waiting.\n"
    html = "<p>{{ member.name }} &amp; co: <b>{{ points }}</b> {{ '<points>' }}</p>"
    form.locator("input[name=subject]").fill("Your code {{ voucher_code }}")
    form.locator("textarea[name=text]").fill(text)
    form.locator("textarea[name=html]").fill(html)
    form.locator("button[type=submit]").click()
    form.locator(".field-error").wait_for()
    assert shown(console, "#template-form .error-code") == "INVALID_TEMPLATE"
    subject = form.locator("input[name=subject]")
    assert subject.get_attribute("aria-invalid") == "true"
    assert "voucher_code" in form.locator(".field-error").inner_text()
    assert subject.input_value() == "Your code {{ voucher_code }}"
    assert form.locator("textarea[name=text]").input_value() == text
    assert form.locator("textarea[name=html]").input_value() == html
    assert template(runtime, "welcome", "en")["version"] == before["version"]  # nothing stored
    assert console.page.locator("#template-preview").count() == 0
    assert console.axe() == []

    # saved: the preview is the API's rendering with its sample values
    subject.fill("Hi {{ member.name }}, {{ points }} points for you")
    form.locator("button[type=submit]").click()
    console.page.wait_for_selector("#template-preview")
    assert shown(console, "[data-preview=subject]") == f"Hi {name}, {points} points for you"
    assert console.page.locator("[data-preview=text]").text_content() == f"Hello {name},\n{points} points are waiting.\n"
    assert console.page.locator("[data-preview=html]").text_content() == f"<p>{name} &amp; co: <b>{points}</b> &lt;points&gt;</p>"
    saved = template(runtime, "welcome", "en")
    assert saved["version"] != before["version"] and saved["subject"] == "Hi {{ member.name }}, {{ points }} points for you"
    assert saved["text"] == text and saved["html"] == html
    assert console.page.get_attribute("[data-template-version]", "data-template-version") == saved["version"]
    assert form.locator(".error-box").count() == 0 and subject.get_attribute("aria-invalid") is None
    console.fits_every_width("message-template-preview")

    # a locale the kind has no template in: it starts from one it has, and is stored as its own
    console.go("#/messages")
    console.page.wait_for_selector("#template-new")
    console.page.select_option("#template-new select[name=kind]", "tier_changed")
    console.page.fill("#template-new input[name=locale]", "fr")
    console.page.click("#template-new button[type=submit]")
    form.wait_for()
    assert "No tier_changed template for fr yet" in shown(console, "#template-form")
    assert api(runtime, "GET", "/v1/messages/templates/tier_changed/fr").status_code == 404
    subject.fill("Vous êtes {{ tier }}")
    form.locator("button[type=submit]").click()
    console.page.wait_for_selector("#template-preview")
    assert shown(console, "[data-preview=subject]") == f"Vous êtes {SAMPLE['tier']}"
    assert template(runtime, "tier_changed", "fr")["subject"] == "Vous êtes {{ tier }}"
    console.go("#/messages")
    console.page.wait_for_selector("tr[data-template='tier_changed/fr']")
    assert console.errors == []
