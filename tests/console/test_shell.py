"""The console's shell: served with its security headers, signed in locally, PKCE computed as RFC 7636 says,
every screen free of serious accessibility violations at laptop and tablet widths, and a first load within budget."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

import requests

from tests.console.conftest import ARTIFACTS, WIDTHS

SCREENS = ["#/dashboard", "#/members", "#/campaigns", "#/campaigns/new", "#/segments", "#/segments/new", "#/rewards", "#/program",
           "#/messages", "#/messages/welcome/en", "#/webhooks"]


def test_the_console_is_served_with_the_security_headers_and_a_local_admin_token(runtime):
    index = requests.get(f"{runtime.api}/console/", timeout=10)
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert index.headers["x-frame-options"] == "DENY"
    config = requests.get(f"{runtime.api}/console/config.json", timeout=10).json()
    assert config["mode"] == "local"
    program = requests.get(f"{runtime.api}/v1/program", headers={"authorization": f"Bearer {config['token']}"}, timeout=10)
    report = requests.get(f"{runtime.api}/v1/reports/program?from=2026-01-01&to=2026-01-02",
                          headers={"authorization": f"Bearer {config['token']}"}, timeout=10)
    assert program.status_code == 200 and report.status_code == 200  # an admin token: the report is admin-only
    assert requests.get(f"{runtime.api}/console/../template.yaml", timeout=10).status_code == 404
    assert requests.get(f"{runtime.api}/console/%2e%2e/template.yaml", timeout=10).status_code == 404
    assert requests.post(f"{runtime.api}/console/", timeout=10).status_code == 405


def test_no_shipped_file_holds_a_token_or_a_secret():
    from tests.local.conftest import ROOT

    for path in (ROOT / "console").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "eyJ" not in text and "loyalty-local-secret" not in text, path
    assert not (ROOT / "console" / "config.json").exists()


def test_the_pkce_challenge_is_rfc_7636_s256(console):
    console.open()
    rfc_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636, appendix B
    assert console.page.evaluate("async v => (await import('./auth.js')).pkceChallenge(v)", rfc_verifier) == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    verifier = secrets.token_urlsafe(48)
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert console.page.evaluate("async v => (await import('./auth.js')).pkceChallenge(v)", verifier) == expected
    made = console.page.evaluate("async () => (await import('./auth.js')).newVerifier()")
    assert 43 <= len(made) <= 128 and set(made) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def test_every_screen_at_both_widths_has_no_serious_accessibility_violation(console):
    console.open()
    found = {}
    for width, (w, height) in WIDTHS.items():
        console.page.set_viewport_size({"width": w, "height": height})
        for screen in SCREENS:
            console.go(screen)
            console.page.wait_for_selector("main h1")
            console.page.wait_for_function("() => !document.querySelector('main .state[role=status]')")
            name = screen.strip("#/").replace("/", "-")
            console.screenshot(f"{name}-{width}")
            violations = console.axe()
            if violations:
                found[f"{screen} {width}"] = violations
            assert console.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), \
                f"{screen} scrolls sideways at {w} px"
    assert found == {}
    assert console.errors == []


def test_the_keyboard_reaches_every_screen_from_the_navigation(console):
    console.open()
    console.page.keyboard.press("Tab")  # the skip link first
    assert console.page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    reached = []
    for _ in range(6):
        console.page.keyboard.press("Tab")
        reached.append(console.page.evaluate("() => document.activeElement.textContent"))
        if reached[-1] == "Rewards":
            break
    assert reached == ["Dashboard", "Members", "Campaigns", "Segments", "Rewards"]
    console.page.keyboard.press("Enter")
    console.page.wait_for_selector("#rewards-title")
    assert console.page.evaluate("() => window.location.hash") == "#/rewards"


def test_the_first_load_stays_within_the_transfer_budget(console):
    """Everything the first load fetches, as transferred (gzip): at most 300 KB. How long it took until the
    dashboard showed its data is written to .artifacts/console/first-load.json and printed, not asserted (a
    timing is a measurement, not a test: the closing note and docs/console.md report it)."""
    console.page.goto("about:blank")
    console.open()
    figures = console.page.evaluate("""() => {
        const entries = performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
          .filter(e => e.name.includes('/console/'));
        const navigation = performance.getEntriesByType('navigation')[0];
        return {transferred_bytes: entries.reduce((sum, e) => sum + e.transferSize, 0),
                decoded_bytes: entries.reduce((sum, e) => sum + e.decodedBodySize, 0), requests: entries.length,
                dom_content_loaded_ms: Math.round(navigation.domContentLoadedEventEnd),
                ready_ms: Math.round(performance.getEntriesByName('console-ready')[0].startTime)};
    }""")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "first-load.json").write_text(json.dumps(figures, indent=2))
    print(f"console first load: {figures}")
    assert 0 < figures["transferred_bytes"] <= 300_000, figures
    assert figures["transferred_bytes"] < figures["decoded_bytes"]  # served compressed


def test_the_vendored_chart_library_is_the_locked_package_s():
    from tests.local.conftest import ROOT

    for name in ("uPlot.esm.js", "uPlot.min.css"):
        assert (ROOT / "console" / "vendor" / name).read_bytes() == (ROOT / "node_modules" / "uplot" / "dist" / name).read_bytes()
    lock = __import__("json").loads((ROOT / "package-lock.json").read_text())
    assert all(package.get("integrity", "").startswith("sha512-") for path, package in lock["packages"].items() if path)
