"""The README and docs/ stand alone and stay true: links and anchors resolve inside the repository, the README is a
front door, walk-throughs run on one $API and write nothing into the repository, every route has what
docs/contributing.md lists, and `make events` knows the event types the publisher names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from loyalty_local import events as local_events
from tests.test_template import CONTRACT, LANDING_WITH_THEIR_ISSUE, _served

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def _prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return "".join(part for index, part in enumerate(re.split(r"^```.*$", text, flags=re.M)) if index % 2 == 0)


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.M | re.S)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (but - and _), spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(heading) for heading in re.findall(r"^#+ (.+)$", _prose(page.read_text()), flags=re.M)}


def _links(page: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", _prose(page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_resolves_to_a_file_and_heading_of_the_repository(page):
    for link in _links(page):
        assert not re.match(r"[a-z]+:", link), f"{link}: the docs link only the repository's own files"
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.is_relative_to(ROOT), f"{link} leaves the repository"
        if target in LANDING_WITH_THEIR_ISSUE:
            continue
        assert target.exists(), f"{page.name}: {link} names no file"
        if anchor:
            assert target.suffix == ".md" and anchor in _anchors(target), f"{page.name}: {link} names no heading"


def test_the_slug_is_github_s():
    assert _slug("`GET /v1/program`") == "get-v1program"
    assert _slug("Catalog administration (admin, `CatalogFunction`)") == "catalog-administration-admin-catalogfunction"
    assert _slug("Five minutes with it") == "five-minutes-with-it"


def test_the_readme_is_a_front_door_with_an_index_of_every_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert "```mermaid" in text and "make run" in text and "make test" in text
    assert "## Five minutes with it" in text and "## Where everything else is" in text
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in _links(README)}
    for page in [*PAGES[1:], *LANDING_WITH_THEIR_ISSUE]:
        assert page in linked, f"the README's index misses {page.relative_to(ROOT)}"


def test_there_is_one_table_of_error_codes_and_it_is_in_docs_api_md():
    def error_rows(page: Path) -> list[str]:
        return re.findall(r"^\| [45]\d\d \| `[A-Z_]+`", page.read_text(), flags=re.M)

    assert error_rows(ROOT / "docs" / "api.md")
    assert [page.name for page in PAGES if error_rows(page)] == ["api.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_walk_throughs_use_one_api_variable_and_write_outside_the_repository(page):
    blocks = _bash_blocks(page.read_text())
    defined: set[str] = set()
    for block in blocks:
        for line in block.splitlines():
            command = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
            if re.match(r"(API|LAMBDA)=http://127\.0\.0\.1:300[01]\b", line):
                defined.add(line.split("=", 1)[0])
                continue
            assert not re.search(r"127\.0\.0\.1:\d+", command), f"{page.name}: an address outside $API: {line}"
            for variable in ("API", "LAMBDA"):
                if f"${variable}" in command:
                    assert variable in defined, f"{page.name}: ${variable} used before the walk-through sets it"
            for target in re.findall(r"(?<![0-9&])>\s*([^\s&|;]+)", command):
                assert target == "/dev/null" or target.startswith("$OUT/"), f"{page.name}: writes {target} in the repository"
            if "make -s token ROLE=member" in command:
                assert "EMAIL=" in command, f"{page.name}: a member token names the e-mail it enrolls"


def test_walk_through_checks_fail_on_a_hard_coded_port_and_a_file_in_the_repository(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\ncurl -s http://127.0.0.1:3000/v1/program > out.json\n```\n")
    with pytest.raises(AssertionError, match="outside \\$API"):
        test_walk_throughs_use_one_api_variable_and_write_outside_the_repository(page)
    page.write_text("```bash\nAPI=http://127.0.0.1:3000\ncurl -s $API/v1/program > out.json\n```\n")
    with pytest.raises(AssertionError, match="writes out.json"):
        test_walk_throughs_use_one_api_variable_and_write_outside_the_repository(page)


def test_every_route_of_the_template_has_a_row_a_section_a_sample_event_and_an_openapi_operation():
    """What docs/contributing.md lists for a new route, as far as a test can check it."""
    api = (ROOT / "docs" / "api.md").read_text()
    sections = api.split("\n## Implemented routes\n", 1)[1]
    samples = {json.loads(path.read_text()).get("routeKey") for path in (ROOT / "events").glob("*.json")}
    openapi = json.loads((ROOT / "openapi.json").read_text())["paths"]
    routes = set(_served())
    assert routes == set(CONTRACT) and len(routes) >= 30
    for method, path in routes:
        named = re.search(re.escape(f"`{method} {path}") + r"[`?]", sections)  # the path, or the path and its query
        assert named, f"docs/api.md has no section naming `{method} {path}`"
        assert f"{method} {path}" in samples, f"events/ has no sample event for {method} {path}"
        assert method.lower() in openapi.get(path, {}), f"openapi.json has no operation {method} {path}"
    contributing = (ROOT / "docs" / "contributing.md").read_text()
    for named in re.findall(r"`((?:docs|layers|functions|benchmarks|tests)/[\w/.]+\.(?:md|py|json))`", contributing):
        assert (ROOT / named).exists(), f"docs/contributing.md names {named}, which does not exist"


def test_make_events_knows_every_type_the_publisher_names():
    known = local_events.known_types()
    source = (ROOT / "layers" / "loyalty" / "loyalty" / "events.py").read_text()
    published = set(re.findall(r'DomainEvent\("(\w+)"', source)) | set(re.findall(r'"(Member(?:Un)?[Bb]locked)"', source))
    assert len(published) >= 15 and published <= set(known)


def test_make_events_says_a_type_does_not_exist_and_lists_the_known_ones(capsys, tmp_path):
    assert local_events.main(["--type", "BonusCredited", "--file", str(tmp_path / "none.jsonl")]) == 2
    said = capsys.readouterr().err
    assert "no event type 'BonusCredited'" in said
    assert all(kind in said for kind in local_events.known_types())
    assert local_events.main(["--type", "TierChanged", "--file", str(tmp_path / "none.jsonl")]) == 0
    assert "no events in" in capsys.readouterr().out


def test_the_console_offers_every_event_type_a_webhook_can_subscribe_to():
    script = (ROOT / "console" / "screens" / "webhooks.js").read_text()
    offered = re.search(r"const EVENT_TYPES = \[(.*?)\];", script, re.S)
    assert offered, "console/screens/webhooks.js no longer lists EVENT_TYPES"
    assert set(re.findall(r'"(\w+)"', offered.group(1))) == set(local_events.known_types())
