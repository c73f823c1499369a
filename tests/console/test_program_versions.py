"""Program versions in the console, checked against the API: the list, a new version edited from the one in force
with its field-by-field diff (the changes the test made, and only those), a refused publish (an effective_from in
the past) with its field error beside the field and everything typed kept, then the version published. The diff
itself is checked against an independent one on generated documents. In a module of its own: publishing changes
its runtime's program."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.console.conftest import WIDTHS, api
from tests.console.test_journeys import shown

META = {"version", "effective_from", "published_at", "published_by", "note"}


def versions(runtime) -> list[dict]:
    answer = api(runtime, "GET", "/v1/program/versions")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def rows(console) -> list[dict]:
    return console.page.evaluate("""() => [...document.querySelectorAll('#program-diff tr[data-diff-path]')].map(row => ({
        path: row.dataset.diffPath, change: row.dataset.change,
        before: row.querySelector('[data-side=before]').textContent, after: row.querySelector('[data-side=after]').textContent}))""")


def test_publish_a_program_version_with_its_diff(console, runtime):
    [first] = versions(runtime)
    console.open("#/program")
    console.page.wait_for_selector("#publish-form")
    row = console.page.locator("tr[data-version='1']")
    assert row.locator("td").nth(3).inner_text() == first["published_by"]
    assert "(in force)" in row.inner_text()
    assert shown(console, "#program-diff") == "No change from version 1."
    assert json.loads(console.page.input_value("#program-json")) == {k: v for k, v in first.items() if k not in META}

    # the changes: the welcome bonus, Silver's threshold, a new excluded category, the birthday bonus removed
    document = json.loads(console.page.input_value("#program-json"))
    welcome, silver = document["bonuses"]["welcome"], document["tiers"][1]["min_qualifying_points"]
    document["bonuses"]["welcome"] = welcome + 25
    document["tiers"][1]["min_qualifying_points"] = silver + 100
    document["earn"]["excluded_categories"].append("deposit")
    birthday = document["bonuses"].pop("birthday")
    console.page.fill("#program-json", json.dumps(document, indent=2))
    added_at = len(first["earn"]["excluded_categories"])
    expected = [
        {"path": "tiers.1.min_qualifying_points", "change": "changed", "before": str(silver), "after": str(silver + 100)},
        {"path": "bonuses.welcome", "change": "changed", "before": str(welcome), "after": str(welcome + 25)},
        {"path": "bonuses.birthday", "change": "removed", "before": str(birthday), "after": "—"},
        {"path": f"earn.excluded_categories.{added_at}", "change": "added", "before": "—", "after": '"deposit"'},
    ]
    assert sorted(rows(console), key=lambda r: r["path"]) == sorted(expected, key=lambda r: r["path"])
    assert f"({first['tiers'][1]['name']})" in shown(console, "tr[data-diff-path='tiers.1.min_qualifying_points'] th")

    # an effective_from in the past: the API's field error beside it; the document and the note stay; nothing published
    console.page.fill("#publish-form input[name=effective_from]", "2020-01-01T00:00:00Z")
    console.page.fill("#publish-form input[name=note]", "winter: more welcome points")
    console.page.click("#publish-form button[type=submit]")
    console.page.wait_for_selector("#publish-form .field-error")
    effective = console.page.locator("#publish-form input[name=effective_from]")
    assert effective.get_attribute("aria-invalid") == "true"
    assert shown(console, "#publish-form .error-code") == "VALIDATION_ERROR"
    assert "must be now or later" in console.page.locator("#publish-form .field-error").first.inner_text()
    assert effective.input_value() == "2020-01-01T00:00:00Z"
    assert console.page.input_value("#publish-form input[name=note]") == "winter: more welcome points"
    assert json.loads(console.page.input_value("#program-json")) == document
    assert len(versions(runtime)) == 1
    assert console.axe() == []
    for width, (w, height) in WIDTHS.items():
        console.page.set_viewport_size({"width": w, "height": height})
        console.screenshot(f"program-versions-diff-{width}")
        assert console.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), width
    console.page.set_viewport_size({"width": 1280, "height": 800})

    # a document field the API refuses: its error beside the document, naming the field
    document["earn"]["points_per_unit"] = "2"  # a string where a number goes
    console.page.fill("#program-json", json.dumps(document, indent=2))
    effective.fill("")
    console.page.click("#publish-form button[type=submit]")
    console.page.wait_for_selector("#program-json[aria-invalid=true]")
    assert "earn.points_per_unit" in console.page.locator("#publish-form .field-error").first.inner_text()
    assert len(versions(runtime)) == 1
    document["earn"]["points_per_unit"] = first["earn"]["points_per_unit"]
    console.page.fill("#program-json", "{ not json")
    assert shown(console, "#program-diff").startswith("Not valid JSON")
    console.page.fill("#program-json", json.dumps(document, indent=2))

    # published from a time a minute ahead: the list shows it scheduled, the API holds exactly the edited document
    starts = (datetime.now(timezone.utc) + timedelta(minutes=1)).replace(microsecond=0)
    effective.fill(starts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    console.page.click("#publish-form button[type=submit]")
    console.page.wait_for_selector("[data-published='2']")
    newest, oldest = versions(runtime)
    assert (newest["version"], oldest["version"]) == (2, 1)
    assert {k: v for k, v in newest.items() if k not in META} == {**document, "bonuses": {**document["bonuses"], "birthday": 0}}
    assert newest["note"] == "winter: more welcome points"
    assert datetime.fromisoformat(newest["effective_from"].replace("Z", "+00:00")) == starts
    assert shown(console, "tr[data-version='2'] td:nth-child(5)") == "winter: more welcome points"
    assert shown(console, "tr[data-version='2'] td:nth-child(4)") == newest["published_by"]
    assert "(scheduled)" in shown(console, "tr[data-version='2']") and "(in force)" in shown(console, "tr[data-version='1']")
    assert console.axe() == []
    console.screenshot("program-versions-published-laptop")
    assert console.errors == []


# ------------------------------------------------------------------ the diff, on generated documents

def leaves(value, prefix=""):
    """Every leaf by its dotted path (an empty object or list is a leaf): written here, apart from the console's."""
    if isinstance(value, dict) and value:
        out = {}
        for key, child in value.items():
            out.update(leaves(child, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, child in enumerate(value):
            out.update(leaves(child, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix: value}


def expected_diff(before, after) -> set[tuple]:
    was, now = leaves(before), leaves(after)
    changes = {(p, "removed") for p in was.keys() - now.keys()} | {(p, "added") for p in now.keys() - was.keys()}
    return changes | {(p, "changed") for p in was.keys() & now.keys() if json.dumps(was[p]) != json.dumps(now[p])}


keys = st.sampled_from(["earn", "tiers", "name", "points", "a", "b"])
scalars = (st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=5)
           | st.just([]) | st.just({}))
documents = st.dictionaries(keys, st.recursive(scalars, lambda inner: st.lists(inner, min_size=1, max_size=3)
                                               | st.dictionaries(keys, inner, min_size=1, max_size=3), max_leaves=8), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=documents, after=documents)
def test_the_diff_lists_every_changed_added_and_removed_field(console, before, after):
    if console.page.url == "about:blank":
        console.open("#/program")
        console.page.wait_for_selector("#publish-form")
    found = console.page.evaluate("async ([a, b]) => (await import('./screens/program.js')).diff(a, b)", [before, after])
    assert {(c["path"], c["change"]) for c in found} == expected_diff(before, after)
    assert len(found) == len({c["path"] for c in found})  # one row per field
    for change in found:
        assert change.get("before") == leaves(before).get(change["path"])
        assert change.get("after") == leaves(after).get(change["path"])

