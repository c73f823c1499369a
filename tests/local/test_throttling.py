"""The local runtime enforces the template's route throttling: over a route's burst, 429 with Retry-After
and the error body, before the authorizer or any function runs; under it, nothing is refused."""

from __future__ import annotations

import pytest
import requests

from tests.local.conftest import start_runtime

TIMEOUT = 30
BURST = 3
# A rate so slow (one token per 1,000 s) that no token comes back during the test: the counts do not depend on timing.
OVERRIDES = f"ReportsRateLimit=0.001 ReportsBurstLimit={BURST} TillRateLimit=0.001 TillBurstLimit={BURST}"


@pytest.fixture(scope="module")
def throttled(tmp_path_factory):
    runtime = start_runtime(tmp_path_factory.mktemp("throttled") / "runtime.log", LOCAL_PARAMETER_OVERRIDES=OVERRIDES)
    yield runtime
    runtime.stop()


def test_a_burst_over_the_limit_gets_429_with_retry_after_and_the_error_body(throttled):
    url = f"{throttled.api}/v1/reports/program"
    params = {"from": "2026-11-01", "to": "2026-11-02"}
    answers = [requests.get(url, params=params, headers=throttled.headers("admin"), timeout=TIMEOUT) for _ in range(BURST + 4)]
    assert [answer.status_code for answer in answers] == [200] * BURST + [429] * 4, [a.text for a in answers]
    for refused in answers[BURST:]:
        assert refused.json()["code"] == "TOO_MANY_REQUESTS" and refused.json()["message"]
        assert refused.headers["content-type"] == "application/json"
        assert 1 <= int(refused.headers["retry-after"]) <= 1000  # seconds until the bucket holds a token again
    # refused before the authorizer: a request without a token is a 429 too, not a 401
    assert requests.get(url, params=params, timeout=TIMEOUT).status_code == 429
    # each route has its own bucket: the export (same class) and other classes still answer
    assert requests.get(f"{throttled.api}/v1/program", headers=throttled.headers("pos"), timeout=TIMEOUT).status_code == 200


def test_requests_within_the_burst_are_never_refused(throttled):
    voucher = f"{throttled.api}/v1/vouchers/NOSUCHCODE"  # a till route: 404 from the function, not 429
    answers = [requests.get(voucher, headers=throttled.headers("pos"), timeout=TIMEOUT) for _ in range(BURST)]
    assert [answer.status_code for answer in answers] == [404] * BURST, [a.text for a in answers]
    assert all("retry-after" not in answer.headers for answer in answers)
    assert requests.get(voucher, headers=throttled.headers("pos"), timeout=TIMEOUT).status_code == 429
