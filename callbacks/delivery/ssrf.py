"""The SSRF guard: which addresses a callback may reach.

Checked when an endpoint is saved (literal addresses) and again at connect
time over every address a name resolves to; the connection is then pinned to
a checked address, so a DNS answer that changes between check and connect
(rebinding) cannot slip through.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REFUSED_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
_REFUSED_V6 = [
    ipaddress.ip_network(n)
    for n in (
        "::/128",
        "::1/128",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
]


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
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return "an IPv4-mapped IPv6 address (::ffff:0:0/96)"
    for network in _REFUSED_V4 if address.version == 4 else _REFUSED_V6:
        if address in network:
            return _describe(address, network)
    if not address.is_global:
        return "not a public address"
    return None


def _describe(address: IPAddress, network: object) -> str:
    for flag, name in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_private", "private"),
    ):
        if getattr(address, flag):
            return f"{name} ({network})"
    return f"reserved ({network})"


def literal_address(host: str) -> IPAddress | None:
    """Return the address a host name *literally* denotes, or None for a real name.

    Accepts the forms resolvers accept too: dotted quads, ``2130706433``,
    ``0x7f.1``, ``0177.0.0.1``, ``127.1`` and bracketed IPv6.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_literal(host: str) -> None:
    """Raise AddressRefused when ``host`` is a literal address that is refused."""
    address = literal_address(host)
    if address is not None:
        reason = refusal(address)
        if reason:
            raise AddressRefused(f"{host} is {reason}, which callbacks may not reach")


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
