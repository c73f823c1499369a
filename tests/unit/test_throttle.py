"""The local throttle's token buckets and the template's route classes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_local.template import functions, load_template
from loyalty_local.throttle import Limit, Throttle, TokenBucket, parse_overrides

TEMPLATE = load_template()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(rate=st.integers(1, 50), burst=st.integers(1, 20),
       gaps=st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=200))
def test_a_bucket_admits_at_most_its_burst_plus_what_its_rate_refilled(rate, burst, gaps):
    clock = FakeClock()
    bucket = TokenBucket(Limit(rate, burst), clock)
    admitted, tokens = 0, float(burst)
    for gap in gaps:
        before = clock.now
        clock.now += gap
        elapsed = clock.now - before  # what the clock says passed (float sums round: not always `gap`)
        tokens = min(burst, tokens + elapsed * rate)  # the model: refill, then take one if there is one
        wait = bucket.take()
        if tokens >= 1:
            tokens -= 1
            admitted += 1
            assert wait == 0
        else:
            assert wait >= 1
    assert admitted <= burst + rate * clock.now + 1e-9


def test_a_refused_request_is_told_the_whole_seconds_until_a_token_is_back():
    clock = FakeClock()
    bucket = TokenBucket(Limit(0.25, 2), clock)  # one token every 4 s
    assert [bucket.take() for _ in range(3)] == [0, 0, 4]
    clock.now = 3.5
    assert bucket.take() == 1
    clock.now = 4.0
    assert bucket.take() == 0


def _route_class(method: str, path: str, scopes: tuple[str, ...]) -> str:
    """The class the template's comments give: reports (cost grows with the range or the ledger), back office
    (admin only), member app (a member token may call it), else till."""
    if path.startswith("/v1/reports/") or path.endswith("/export"):
        return "Reports"
    if scopes == ("loyalty/admin",) or not scopes:  # no scopes: the unsubscribe link, which takes no token
        return "BackOffice"
    return "MemberApp" if "loyalty/member" in scopes else "Till"


def test_every_route_is_throttled_with_the_limits_of_its_class():
    settings = TEMPLATE["Resources"]["HttpApi"]["Properties"]["RouteSettings"]
    routes = {f"{route.method} {route.path}": route for spec in functions(TEMPLATE).values() for route in spec.routes}
    assert set(settings) == set(routes), "every route, and only routes that exist"
    for key, route in routes.items():
        expected = _route_class(route.method, route.path, route.scopes)
        assert settings[key] == {"ThrottlingRateLimit": {"Ref": f"{expected}RateLimit"},
                                 "ThrottlingBurstLimit": {"Ref": f"{expected}BurstLimit"}}, key
    parameters = TEMPLATE["Parameters"]
    for klass in ("MemberApp", "Till", "BackOffice", "Reports"):
        assert parameters[f"{klass}RateLimit"]["Default"] <= parameters[f"{klass}BurstLimit"]["Default"]
    assert parameters["ReportsRateLimit"]["Default"] < parameters["BackOfficeRateLimit"]["Default"] < \
        parameters["TillRateLimit"]["Default"], "the costlier a call, the fewer a second"


def test_the_local_throttle_reads_the_template_and_its_overrides():
    throttle = Throttle.from_template(TEMPLATE)
    defaults = TEMPLATE["Parameters"]
    assert throttle.limit_of("GET /v1/reports/program") == Limit(defaults["ReportsRateLimit"]["Default"],
                                                                 defaults["ReportsBurstLimit"]["Default"])
    assert throttle.limit_of("POST /v1/members/{member_id}/earn") == Limit(defaults["TillRateLimit"]["Default"],
                                                                           defaults["TillBurstLimit"]["Default"])
    assert throttle.limit_of("GET /v1/not-a-route") == Limit(defaults["BackOfficeRateLimit"]["Default"],
                                                             defaults["BackOfficeBurstLimit"]["Default"])
    changed = Throttle.from_template(TEMPLATE, parse_overrides("ReportsRateLimit=0.5 ReportsBurstLimit=2"))
    assert changed.limit_of("GET /v1/members/{member_id}/export") == Limit(0.5, 2)


def test_routes_have_buckets_of_their_own():
    clock = FakeClock()
    throttle = Throttle({"GET /a": Limit(1, 1), "GET /b": Limit(1, 1)}, None, clock)
    assert [throttle.retry_after("GET /a"), throttle.retry_after("GET /a"), throttle.retry_after("GET /b")] == [0, 1, 0]
    assert throttle.retry_after("GET /unlisted") == 0, "no default: not throttled"


@pytest.mark.parametrize("text", ["Name", "=1", "A=1 B"])
def test_malformed_overrides_are_refused(text):
    with pytest.raises(ValueError, match="Name=Value"):
        parse_overrides(text)


def test_the_contract_states_the_templates_default_limits():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    rows = re.findall(r"^\| [a-z ]+ \(`(\w+)RateLimit`, `\w+BurstLimit`\) \| .+ \| ([\d,]+) / ([\d,]+) \|$", text, re.M)
    parameters = TEMPLATE["Parameters"]
    assert {klass for klass, _, _ in rows} == {"MemberApp", "Till", "BackOffice", "Reports"}
    for klass, rate, burst in rows:
        assert (int(rate.replace(",", "")), int(burst.replace(",", ""))) == (
            parameters[f"{klass}RateLimit"]["Default"], parameters[f"{klass}BurstLimit"]["Default"]), klass
