"""The SSRF guard: a webhook URL is resolved here, every address it resolves to is checked, and the delivery
connects to the address that was checked (so a name that resolves differently a moment later, DNS rebinding,
cannot slip a private address in between the check and the connection). Redirects are never followed
(delivery.py). Checked at subscribe time and again at every delivery.

What is refused: any address that is not globally routable (private, loopback, link-local, the metadata
addresses 169.254.169.254 and fd00:ec2::254, unspecified, shared, reserved, documentation ranges), multicast,
and IPv4-mapped / NAT64 / 6to4 IPv6 forms of those. The policy is a value the function is given: in AWS only
`https` to public addresses; the local runtime gives a policy that also allows `http://127.0.0.1:<port>`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOOPBACK_HOST = "127.0.0.1"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]  # (host, port) -> the addresses it resolves to


class UrlNotAllowed(Exception):
    """The URL may not receive webhooks: its scheme, its form, or an address it resolves to."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the host resolves to (A and AAAA), as the operating system's resolver answers."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UrlNotAllowed(f"{host} does not resolve: {error}") from None
    return list(dict.fromkeys(answer[4][0] for answer in answers))


@dataclass(frozen=True)
class Target:
    """Where a delivery goes: the URL's parts and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def _embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def public(address: IpAddress) -> bool:
    """Whether an address is one a webhook may be delivered to: globally routable and not multicast."""
    if address in METADATA or address.is_multicast or not address.is_global:
        return False
    inner = _embedded_ipv4(address)
    return inner is None or public(inner)


@dataclass(frozen=True)
class AddressPolicy:
    """Which URLs may receive webhooks. `loopback_http`: also `http://127.0.0.1:<port>` (the local runtime's)."""

    loopback_http: bool = False

    @classmethod
    def named(cls, name: str) -> AddressPolicy:
        if name not in POLICIES:
            raise ValueError(f"unknown webhook URL policy {name!r}: one of {', '.join(POLICIES)}")
        return POLICIES[name]

    def check(self, url: str, resolver: Resolver) -> Target:
        """The target to connect to, or UrlNotAllowed."""
        if len(url) > MAX_URL_LENGTH:
            raise UrlNotAllowed(f"the URL is longer than {MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise UrlNotAllowed(f"not a URL: {error}") from None
        host = parts.hostname
        if not host:
            raise UrlNotAllowed("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise UrlNotAllowed("the URL may not carry credentials")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if self.loopback_http and parts.scheme == "http" and host == LOOPBACK_HOST:
            return Target("http", host, port or 80, path, LOOPBACK_HOST)
        if parts.scheme != "https":
            raise UrlNotAllowed("the URL must be https" + (" (or http://127.0.0.1:<port> locally)" if self.loopback_http else ""))
        port = port or 443
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        addresses = [str(literal)] if literal is not None else resolver(host, port)
        if not addresses:
            raise UrlNotAllowed(f"{host} resolves to no address")
        for text in addresses:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                raise UrlNotAllowed(f"{host} resolves to {text!r}, not an address") from None
            if not public(address):
                raise UrlNotAllowed(f"{host} resolves to {address}, which is not a public address")
        return Target("https", host, port, path, addresses[0])


POLICIES = {"public": AddressPolicy(), "public-or-loopback-http": AddressPolicy(loopback_http=True)}
