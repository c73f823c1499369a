"""The dashboard's insights in the browser: liability per month and the retention heat map show the figures this
test's own activity implies (computed here, not read back from the insight), one query per chart; a query that
is still running is read again until it has succeeded; a failed one shows its reason beside its chart. In a
module of its own: its runtime's analytics store holds this module's events only."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

from tests.console.conftest import WIDTHS, api
from tests.console.test_journeys import earn, enrol, member, shown


def figure(console, selector: str) -> str:
    """A cell's text, shown or folded in a chart's <details> (a screen reader reads it either way)."""
    return (console.page.locator(selector).text_content() or "").strip()


def _month(day: date) -> str:
    return day.isoformat()[:7]


def _months(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _insight(runtime, insight: str, first: date, last: date) -> dict:
    accepted = api(runtime, "POST", "/v1/insights/queries", {"insight": insight, "params": {"from": first.isoformat(), "to": last.isoformat()}})
    assert accepted.status_code == 202, accepted.text
    return api(runtime, "GET", f"/v1/insights/queries/{accepted.json()['query_id']}").json()


def _wait_for_the_store(runtime, first: date, last: date, outstanding: int) -> None:
    """The analytics store follows the API by about a second: wait until it holds every event of this test."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = _insight(runtime, "liability", first, last)
        if answer["status"] == "succeeded" and answer["result"]["months"][-1]["outstanding_points"] >= outstanding:
            return
        time.sleep(0.5)
    raise AssertionError(f"the analytics store did not catch up: {answer}")


def test_liability_per_month_and_the_retention_heat_map_show_this_test_s_figures(console, runtime):
    members = [enrol(runtime) for _ in range(3)]
    earn(runtime, members[0], 1250)
    earn(runtime, members[0], 400)
    earn(runtime, members[1], 3000)  # the third member enrolled and bought nothing
    outstanding = sum(member(runtime, m)["points_balance"] + member(runtime, m)["points_pending"] for m in members)
    point_value = api(runtime, "GET", "/v1/program").json()["point_value_minor"]
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=29)  # the dashboard's default range: the last 30 days
    _wait_for_the_store(runtime, first, today, outstanding)

    posted, read = [], []
    console.page.on("request", lambda r: (posted if r.method == "POST" else read).append(r.url) if "/v1/insights/queries" in r.url else None)
    console.open("#/dashboard")
    console.page.wait_for_selector("#liability tr[data-key]", state="attached")
    console.page.wait_for_selector("#retention-table")
    assert len(posted) == 2  # one query per chart

    # liability: every month of the range, nothing before this test, all of it outstanding in this month
    months = _months(first, today)
    rows = console.page.locator("#liability tr[data-key]")
    assert [rows.nth(i).get_attribute("data-key") for i in range(rows.count())] == months
    for month in months:
        points = outstanding if month == _month(today) else 0
        assert figure(console, f"#liability tr[data-key='{month}'] td[data-series='Outstanding points']") == f"{points:,}"
        assert figure(console, f"#liability tr[data-key='{month}'] td[data-series='Value']") == f"€{points * point_value / 100:,.2f}"
    console.page.wait_for_selector("#chart-liability .plot canvas")

    # retention: one cohort (this month) of 3 members, 2 of whom bought in month 0
    cohorts = console.page.locator("#retention-table tbody tr")
    assert [cohorts.nth(i).get_attribute("data-cohort") for i in range(cohorts.count())] == [_month(today)]
    cell = console.page.locator(f"#retention-table tr[data-cohort='{_month(today)}'] td[data-month='0']")
    assert shown(console, f"#retention-table tr[data-cohort='{_month(today)}'] td[data-members]") == "3"
    assert cell.get_attribute("data-buyers") == "2"
    assert cell.locator(".share").inner_text() == f"{2 / 3 * 100:.1f} %"
    assert cell.locator(".buyers").inner_text() == "2 of 3"
    assert "heat-4" in cell.get_attribute("class")  # 2/3 is in the fourth of five steps: the colour is an aid only
    assert console.page.locator("#retention-table td[data-month='1']").count() == 0  # no month after this one yet

    for width, (w, height) in WIDTHS.items():
        console.page.set_viewport_size({"width": w, "height": height})
        console.screenshot(f"dashboard-insights-{width}")
        assert console.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), width
        assert console.axe() == []
    assert console.errors == []


def test_a_running_query_is_read_until_done_and_a_failed_one_shows_its_reason_beside_its_chart(console, runtime):
    """Locally DuckDB answers at once; Athena answers `running` first and may fail (its scan limit): the API's
    answers are made so here, on their way to the page, from the real ones."""
    reads: dict[str, int] = {}
    reason = "Query exhausted the workgroup's data usage limit of 10 GB: narrow the range"

    def as_athena(route):
        answer = route.fetch()
        query = answer.json()
        reads[query["query_id"]] = reads.get(query["query_id"], 0) + 1
        if reads[query["query_id"]] == 1:
            query.update(status="running", result=None, engine="athena")
        elif query["insight"] == "retention_cohorts":
            query.update(status="failed", result=None, error=reason, engine="athena")
        route.fulfill(response=answer, json=query)

    console.page.route("**/v1/insights/queries/q-*", as_athena)
    console.open("#/dashboard")
    console.page.wait_for_selector("#retention .error-box")
    console.page.wait_for_selector("#liability tr[data-key]", state="attached")
    assert shown(console, "#retention .error-box .error-code") == "QUERY_FAILED"
    assert shown(console, "#retention .error-box .error-message") == reason
    assert console.page.locator("#liability .error-box").count() == 0
    assert sorted(reads.values()) == [2, 2]  # each query read until it was no longer running, and no more
    assert console.axe() == []
    console.screenshot("dashboard-insight-failed-laptop")


def test_a_range_before_any_activity_shows_empty_insights(console, runtime):
    console.open("#/dashboard")
    console.page.fill("#main input[name=from]", "2025-01-01")
    console.page.fill("#main input[name=to]", "2025-02-15")
    console.page.click("text=Show")
    console.page.wait_for_selector("text=2025-01-01 to 2025-02-15")
    console.page.wait_for_selector("#retention .state.empty")
    console.page.wait_for_selector("#liability tr[data-key='2025-02']", state="attached")
    assert shown(console, "#retention .state.empty") == "Nobody enrolled in this range."
    for month in ("2025-01", "2025-02"):
        assert figure(console, f"#liability tr[data-key='{month}'] td[data-series='Outstanding points']") == "0"
    assert console.errors == []
