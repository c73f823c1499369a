"""The console in a real browser: Debian's Chromium driven by playwright, against a `make run`-style runtime.

Chromium comes from the project's own setup (`make browser`, which `make test` runs): a browser that cannot start
fails the tests, it never skips them. Each module gets its own runtime, so that the figures a test computes are
its own and the functions' 60-second campaign cache holds nothing a test did not write.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests

from tests.local.conftest import ROOT, LocalRuntime, start_runtime

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("CONSOLE_ARTIFACTS", ROOT / ".artifacts" / "console"))
WIDTHS = {"laptop": (1280, 800), "tablet": (768, 1024)}


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail(f"no Chromium at {found}: run `make browser` (apt-get install -y chromium)")
    return found


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"])
        except Exception as error:  # noqa: BLE001 - any failure to start is a failed test, never a skip
            pytest.fail(f"Chromium did not start: {error}")
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> LocalRuntime:
    started = start_runtime(tmp_path_factory.mktemp("console") / "runtime.log",
                            LOCAL_PARAMETER_OVERRIDES="ReportsRateLimit=1000 ReportsBurstLimit=1000")
    yield started
    assert started.stop() == 0, started.log()


class Console:
    """A page of the console with what the tests need: open a screen, wait until it rendered, run axe."""

    def __init__(self, page, runtime: LocalRuntime) -> None:
        self.page, self.runtime = page, runtime
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # an error the page logs, except the browser's note of an HTTP error status (the tests provoke 4xx answers)
        page.on("console", lambda message: self.errors.append(message.text)
                if message.type == "error" and not message.text.startswith("Failed to load resource") else None)

    def open(self, hash_: str = "#/dashboard") -> None:
        self.page.goto(f"{self.runtime.api}/console/{hash_}")
        self.page.wait_for_selector("body[data-ready='true']")

    def go(self, hash_: str) -> None:
        self.page.evaluate("hash => { window.location.hash = hash; }", hash_)

    def axe(self) -> list[dict]:
        """The serious and critical violations axe-core finds on what is on screen now."""
        if not AXE.exists():
            pytest.fail(f"{AXE} is missing: run `make test` (its console-deps step runs npm ci)")
        if not self.page.evaluate("() => Boolean(window.axe)"):  # through the devtools protocol: the page's CSP allows no inline script
            self.page.evaluate(AXE.read_text() + "\n;undefined")
        result = self.page.evaluate("async () => JSON.parse(JSON.stringify(await axe.run(document, {resultTypes: ['violations']})))")
        return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
                for v in result["violations"] if v["impact"] in ("serious", "critical")]

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def fits_every_width(self, name: str) -> None:
        """At each of WIDTHS: a screenshot `<name>-<width>`, no sideways scrolling, axe clean; then back to 1280."""
        for width, (w, height) in WIDTHS.items():
            self.page.set_viewport_size({"width": w, "height": height})
            self.screenshot(f"{name}-{width}")
            assert self.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), width
            assert self.axe() == [], width
        self.page.set_viewport_size({"width": 1280, "height": 800})


@pytest.fixture
def console(browser, runtime):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Console(page, runtime)
    context.close()


def api(runtime: LocalRuntime, method: str, path: str, body=None, role: str = "admin", **headers: str) -> requests.Response:
    """A call to the API as any client makes it (the console's figures are checked against these)."""
    return requests.request(method, f"{runtime.api}{path}", json=body, headers=runtime.headers(role, **headers), timeout=30)
