"""Where the unsubscribe links of member e-mail point: the template's PublicApiUrl (a custom domain) when given, else
the HTTP API's execute-api URL (`make run` sets them to its own API port)."""

from __future__ import annotations

import re

from loyalty_local.template import load_template, resolve

TEMPLATE = load_template()


def sender_url(**parameters: str) -> str:
    environment = TEMPLATE["Resources"]["SendMessagesFunction"]["Properties"]["Environment"]["Variables"]
    return resolve(environment["PUBLIC_API_URL"], TEMPLATE, parameters)


def test_without_a_public_url_the_links_use_the_execute_api_url():
    url = sender_url()
    assert re.fullmatch(r"https://\w+\.execute-api\.[a-z0-9-]+\.amazonaws\.com", url), url


def test_a_public_url_given_at_deploy_time_is_the_links_base():
    assert sender_url(PublicApiUrl="https://api.example.com") == "https://api.example.com"
    assert sender_url(PublicApiUrl="https://example.com/loyalty") == "https://example.com/loyalty"


def test_the_parameter_takes_an_https_base_url_or_nothing():
    pattern = re.compile(TEMPLATE["Parameters"]["PublicApiUrl"]["AllowedPattern"])
    assert TEMPLATE["Parameters"]["PublicApiUrl"]["Default"] == ""
    for good in ("", "https://api.example.com", "https://example.com/loyalty"):
        assert pattern.fullmatch(good), good
    for bad in ("http://api.example.com", "api.example.com", "https://api.example.com/?x=1", "https://a b.com",
                "https://api.example.com#top"):
        assert not pattern.fullmatch(bad), bad

