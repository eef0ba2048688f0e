"""Where a callback may go: the SSRF guard.

Checked when an endpoint is saved (literal addresses) and again at connect time over
every address a name resolves to; the connection is then pinned to a checked address, so
a DNS answer that changes between check and connect (rebinding) cannot slip through.

Only globally routable unicast is allowed, judged by an explicit table (not
``is_global``, which differs between Python versions). An IPv6 address that embeds an
IPv4 one (mapped, compatible, translated, NAT64, 6to4, Teredo) is judged by the IPv4
address a connection would really reach as well.

Validation (endpoint forms, API) and the delivery engine's transport both stand on this
module; it imports neither.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from django.conf import settings
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class _Range:
    """A refused range; ``embeds`` pulls out the IPv4 address an IPv6 one stands for."""

    network: Network
    name: str
    embeds: Callable[[int], ipaddress.IPv4Address] | None = None
    always: bool = True  # False: refused only when the embedded IPv4 address is


def _low32(value: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(value & 0xFFFFFFFF)


def _sixtofour(value: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)


def _teredo_client(value: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(~value & 0xFFFFFFFF)  # stored with every bit inverted


def _table(*rows: tuple) -> tuple[_Range, ...]:
    return tuple(_Range(ipaddress.ip_network(net), *rest) for net, *rest in rows)


# The IANA IPv4 special-purpose registry where not globally reachable; first match wins.
_REFUSED_V4 = _table(
    ("0.0.0.0/32", "unspecified"),
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)

# IPv6: refused ranges, first match wins; anything else outside 2000::/3 is refused too.
_REFUSED_V6 = _table(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "an IPv4-mapped IPv6 address", _low32),
    ("::ffff:0:0:0/96", "an IPv4-translated IPv6 address", _low32),
    ("::/96", "an IPv4-compatible IPv6 address", _low32),
    ("64:ff9b::/96", "a NAT64 IPv6 address", _low32),
    ("64:ff9b:1::/48", "a local-use NAT64 IPv6 address"),
    ("100::/64", "discard-only"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
    ("2001::/32", "a Teredo IPv6 address", _teredo_client),
    ("2001:2::/48", "benchmarking"),
    ("2001:10::/28", "ORCHID"),
    ("2001:20::/28", "ORCHIDv2"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("2002::/16", "a 6to4 IPv6 address", _sixtofour, False),
)
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")

# Dots that IDNA maps to "." (NFKC maps the fullwidth one, not the ideographic ones).
_DOTS = {0x3002: ".", 0xFF0E: ".", 0xFF61: "."}


class AddressRefused(OSError):
    """The destination is not allowed; the message says which address and why."""


@functools.cache
def _allowed(networks: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def allowed_networks() -> tuple:
    return _allowed(tuple(settings.CALLBACK_ALLOWED_NETWORKS))


def refusal(address: IPAddress) -> str | None:
    """Return why ``address`` may not be called, or None when it may."""
    if any(address in network for network in allowed_networks()):
        return None
    if address.version == 4:
        return _v4_refusal(address)
    return _v6_refusal(address)


def _v4_refusal(address: ipaddress.IPv4Address) -> str | None:
    for row in _REFUSED_V4:
        if address in row.network:
            return f"{row.name} ({row.network})"
    return None


def _v6_refusal(address: ipaddress.IPv6Address) -> str | None:
    for row in _REFUSED_V6:
        if address in row.network:
            return _row_refusal(row, address)
    if address not in _GLOBAL_UNICAST:
        return f"reserved (outside global unicast {_GLOBAL_UNICAST})"
    return None


def _row_refusal(row: _Range, address: ipaddress.IPv6Address) -> str | None:
    if row.embeds is None:
        return f"{row.name} ({row.network})"
    embedded = row.embeds(int(address))
    reason = _v4_refusal(embedded)
    if reason:
        return f"{row.name} embedding {embedded}, {reason}"
    return f"{row.name} ({row.network}) embedding {embedded}" if row.always else None


def _spelling(host: str) -> str:
    """Spell ``host`` as a resolver reads it: no brackets, zone or trailing dot, IDNA dots."""
    host = unicodedata.normalize("NFKC", host.strip("[]")).translate(_DOTS)
    return host.partition("%")[0].rstrip(".")


def literal_address(host: str) -> IPAddress | None:
    """Return the address a host name *literally* denotes, or None for a real name.

    Accepts the forms resolvers accept too: dotted quads, ``2130706433``,
    ``0x7f.1``, ``0177.0.0.1``, ``127.1``, a trailing dot, fullwidth digits and
    dots, and bracketed IPv6 with or without a zone.
    """
    host = _spelling(host)
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def check_literal(host: str) -> None:
    """Raise AddressRefused when ``host`` is a literal address that is refused."""
    address = literal_address(host)
    if address is None:
        return
    reason = refusal(address)
    if reason:
        spelled = "" if _is_plain(host) else f"{address}, "  # name what 0x7f.1 stands for
        raise AddressRefused(f"{host} is {spelled}{reason}, which callbacks may not reach")


def _is_plain(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def url_hosts(url: str) -> list[str]:
    """Return the URL's host as the standard library and as the HTTP client (yarl) read it."""
    hosts = [urlsplit(url).hostname or ""]
    try:
        client_host = URL(url).raw_host or ""
    except (ValueError, TypeError):
        client_host = ""  # the client cannot send to it either
    if client_host and client_host not in hosts:
        hosts.append(client_host)
    return hosts


def check_url(url: str) -> None:
    """Raise AddressRefused when either reading of the URL's host is a refused literal."""
    for host in url_hosts(url):
        check_literal(host)


def getaddrinfo(host: str, port: int) -> list[tuple]:
    """Resolve ``host`` (the one seam tests patch to simulate DNS answers)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def resolve(host: str, port: int) -> list[tuple[int, str]]:
    """Resolve and check every address; return (family, address) pairs, all allowed."""
    check_literal(host)
    infos = getaddrinfo(host, port)
    found: list[tuple[int, str]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        reason = refusal(address)
        if reason:
            raise AddressRefused(
                f"{host} resolves to {address}, {reason}, which callbacks may not reach"
            )
        if (family, sockaddr[0]) not in found:
            found.append((family, sockaddr[0]))
    if not found:
        raise AddressRefused(f"{host} has no address")
    return found


def describe_networks(networks: Iterable[str]) -> str:
    return ", ".join(networks) or "none"


def preflight(url: str) -> None:
    """Refuse a literal address before any connection (aiohttp skips resolvers for them)."""
    refused = _refusal(url, tuple(settings.CALLBACK_ALLOWED_NETWORKS))
    if refused:
        raise AddressRefused(refused)


@functools.lru_cache(maxsize=4096)
def _refusal(url: str, allowed: tuple[str, ...]) -> str | None:
    """Why ``url`` may not be called before resolving (cached: endpoints' URLs repeat)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL with a host"
    try:
        check_url(url)  # the host as we read it and as aiohttp will dial it
    except AddressRefused as exc:
        return str(exc)
    return None


class GuardedResolver(AbstractResolver):
    """Resolve through the guard: every address checked; only checked ones returned."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        pairs = await loop.run_in_executor(None, resolve, host, port)
        return [
            ResolveResult(hostname=host, host=address, port=port, family=fam, proto=0,
                          flags=socket.AI_NUMERICHOST)
            for fam, address in pairs
        ]

    async def close(self) -> None:
        return None
