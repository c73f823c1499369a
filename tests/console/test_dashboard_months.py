"""The dashboard's insights over two months: the business clock is moved into the next month, so the heat map has
two cohorts and a month since enrolment, and liability two month ends, every figure computed here from the
balances and purchases this test made. In a module of its own: it moves its runtime's clock."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

from tests.console.conftest import api
from tests.console.test_journeys import earn, enrol, member


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _held(runtime, members: list[str]) -> int:
    """What the members hold: balance and pending points (the liability counts both)."""
    return sum(member(runtime, m)["points_balance"] + member(runtime, m)["points_pending"] for m in members)


def _text(console, selector: str) -> str:
    return (console.page.locator(selector).text_content() or "").strip()


def test_two_months_of_cohorts_and_month_ends(console, runtime):
    today = datetime.now(timezone.utc).date()
    first, second = today.replace(day=1), _next_month(today)
    alex, sam, kim = enrol(runtime), enrol(runtime), enrol(runtime)
    earn(runtime, alex, 1800)
    earn(runtime, sam, 650)  # Kim enrolled and bought nothing this month
    end_of_first = _held(runtime, [alex, sam, kim])

    later = second + timedelta(days=4)  # within the next month, whatever today's day
    moved = api(runtime, "POST", "/_local/clock", {"advance_days": (later - today).days})
    assert moved.status_code == 200, moved.text
    robin = enrol(runtime)
    earn(runtime, alex, 2400)  # Alex comes back in month 1; Robin, enrolled in month 2, buys in its month 0
    earn(runtime, robin, 900)
    end_of_second = _held(runtime, [alex, sam, kim, robin])
    point_value = api(runtime, "GET", "/v1/program").json()["point_value_minor"]

    def stored() -> bool:  # the analytics store follows the API by about a second
        accepted = api(runtime, "POST", "/v1/insights/queries", {"insight": "liability",
                                                                  "params": {"from": first.isoformat(), "to": later.isoformat()}}).json()
        answer = api(runtime, "GET", f"/v1/insights/queries/{accepted['query_id']}").json()
        return answer["status"] == "succeeded" and answer["result"]["months"][-1]["outstanding_points"] >= end_of_second

    deadline = time.monotonic() + 60
    while not stored():
        assert time.monotonic() < deadline, "the analytics store did not catch up"
        time.sleep(0.5)

    console.open("#/dashboard")
    console.page.fill("#main input[name=from]", first.isoformat())
    console.page.fill("#main input[name=to]", later.isoformat())
    console.page.click("text=Show")
    console.page.wait_for_selector(f"text={first.isoformat()} to {later.isoformat()}")
    console.page.wait_for_selector("#retention-table")
    console.page.wait_for_selector("#liability tr[data-key]", state="attached")

    m1, m2 = first.isoformat()[:7], second.isoformat()[:7]
    assert _text(console, f"#liability tr[data-key='{m1}'] td[data-series='Outstanding points']") == f"{end_of_first:,}"
    assert _text(console, f"#liability tr[data-key='{m2}'] td[data-series='Outstanding points']") == f"{end_of_second:,}"
    assert _text(console, f"#liability tr[data-key='{m2}'] td[data-series='Value']") == f"€{end_of_second * point_value / 100:,.2f}"

    expected = {  # cohort -> members, and buyers per month since enrolment
        m1: (3, [2, 1]),  # Alex and Sam in month 0; Alex alone in month 1
        m2: (1, [1]),  # Robin
    }
    rows = console.page.locator("#retention-table tbody tr")
    assert [rows.nth(i).get_attribute("data-cohort") for i in range(rows.count())] == [m1, m2]
    for cohort, (size, buyers) in expected.items():
        row = f"#retention-table tr[data-cohort='{cohort}']"
        assert _text(console, f"{row} td[data-members]") == str(size)
        assert console.page.locator(f"{row} td[data-month]").count() == len(buyers)
        for months_since, count in enumerate(buyers):
            cell = console.page.locator(f"{row} td[data-month='{months_since}']")
            assert cell.get_attribute("data-buyers") == str(count)
            assert cell.locator(".share").inner_text() == f"{count / size * 100:.1f} %"
            assert cell.locator(".buyers").inner_text() == f"{count} of {size}"
    assert console.axe() == []
    console.screenshot("dashboard-two-months-laptop")
    assert console.errors == []
