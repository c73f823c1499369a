"""The SSRF guard with a stubbed resolver (no lookup leaves the machine), and a receiver's redirect not followed."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loyalty.webhooks.addresses import AddressPolicy, Target, UrlNotAllowed, public
from loyalty.webhooks.delivery import HttpSender

AWS = AddressPolicy.named("public")
LOCAL = AddressPolicy.named("public-or-loopback-http")


def resolver(answers: dict[str, list[str]]):
    asked = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[host]

    resolve.asked = asked
    return resolve


NOTHING = resolver({})


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/", "https://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "https://10.0.0.1/",
    "http://[::1]/", "https://[::1]/", "https://127.0.0.1/", "https://0.0.0.0/", "https://[::]/",
    "https://[fd00:ec2::254]/", "https://[::ffff:169.254.169.254]/", "https://[::ffff:10.0.0.1]/",
    "https://[64:ff9b::a00:1]/", "https://[2002:a00:1::]/", "https://192.168.1.1/", "https://172.16.0.1/",
    "https://100.64.0.1/", "https://224.0.0.1/", "https://[ff02::1]/", "https://[fe80::1]/",
])
def test_private_loopback_link_local_and_metadata_addresses_are_refused(url):
    for policy in (AWS, LOCAL):
        with pytest.raises(UrlNotAllowed):
            policy.check(url, NOTHING)


@pytest.mark.parametrize("answer", [["10.1.2.3"], ["127.0.0.1"], ["169.254.169.254"], ["fd00:ec2::254"],
                                    ["::ffff:127.0.0.1"], ["93.184.215.14", "192.168.0.7"], ["::1"], []])
def test_a_name_that_resolves_to_a_private_address_is_refused(answer):
    with pytest.raises(UrlNotAllowed):
        AWS.check("https://hooks.example.com/in", resolver({"hooks.example.com": answer}))


def test_a_public_name_is_allowed_and_the_checked_address_is_where_it_connects():
    resolve = resolver({"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    target = AWS.check("https://hooks.example.com:8443/in?x=1", resolve)
    assert target == Target("https", "hooks.example.com", 8443, "/in?x=1", "93.184.215.14")
    assert target.host_header == "hooks.example.com:8443"
    assert resolve.asked == ["hooks.example.com"]


@pytest.mark.parametrize("url", ["http://hooks.example.com/", "ftp://hooks.example.com/", "https://user:pw@hooks.example.com/",
                                 "https:///nohost", "not a url", "https://hooks.example.com:99999/", "https://x/" + "a" * 3000])
def test_only_plain_https_urls_in_aws(url):
    with pytest.raises(UrlNotAllowed):
        AWS.check(url, resolver({"hooks.example.com": ["93.184.215.14"], "x": ["93.184.215.14"]}))


def test_locally_http_to_127_0_0_1_is_allowed_and_nothing_else_is():
    assert LOCAL.check("http://127.0.0.1:4000/hook", NOTHING) == Target("http", "127.0.0.1", 4000, "/hook", "127.0.0.1")
    with pytest.raises(UrlNotAllowed):
        AWS.check("http://127.0.0.1:4000/hook", NOTHING)
    for url in ("http://localhost:4000/", "http://10.0.0.1:4000/", "http://[::1]:4000/"):
        with pytest.raises(UrlNotAllowed):
            LOCAL.check(url, resolver({"localhost": ["127.0.0.1"]}))


def test_public_is_what_is_globally_routable():
    import ipaddress

    assert public(ipaddress.ip_address("93.184.215.14"))
    assert public(ipaddress.ip_address("2606:4700::1111"))
    assert not public(ipaddress.ip_address("::ffff:192.168.0.1"))


class Redirecting(BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - the test's record

    def do_POST(self):  # noqa: N802
        self.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_is_not_followed_and_counts_as_a_failure():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = LOCAL.check(f"http://127.0.0.1:{server.server_port}/hook", NOTHING)
        outcome = HttpSender(timeout=5).post(target, b"{}", {"Content-Type": "application/json"})
    finally:
        server.shutdown()
    assert not outcome.succeeded and outcome.status == 302
    assert "not followed" in outcome.error
    assert Redirecting.hits == ["/hook"]  # one request, to the subscriber only
